// A small Markdown renderer that builds DOM nodes, never HTML text: every
// piece of the source becomes a text node inside elements chosen here, and
// links keep only http(s) and mailto URLs. It covers what chat text uses:
// paragraphs, headings, emphasis, code spans and fenced blocks, lists,
// quotes, rules, links and pipe tables. Slack's `mrkdwn` (*bold*, _italic_,
// ~strike~, <url|text>) is the same machinery with other inline rules.

import { h, safeUrl } from './dom.js';

const MARKDOWN_INLINE = new RegExp([
  '(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)', // 1,2 code
  '\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*', // 3 strong
  '__(?=\\S)([\\s\\S]*?\\S)__', // 4 strong
  '~~(?=\\S)([\\s\\S]*?\\S)~~', // 5 strike
  '\\*(?=[^\\s*])([^*]*?[^\\s*])\\*', // 6 em
  '(?<![\\w])_(?=[^\\s_])([^_]*?[^\\s_])_(?![\\w])', // 7 em
  '\\[([^\\]]+)\\]\\(((?:[^()\\s]|\\([^()\\s]*\\))+)\\)', // 8,9 link (one level of parentheses in the URL)
  '(https?:\\/\\/[^\\s<]*[^\\s<.,;:!?)\\]\'"])', // 10 bare URL
].join('|'), 'g');

const MRKDWN_INLINE = new RegExp([
  '(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)', // 1,2 code
  '(?<![\\w*])\\*(?=\\S)([^*]*?\\S)\\*(?![\\w*])', // 3 strong
  '(?<![\\w])_(?=\\S)([^_]*?\\S)_(?![\\w])', // 4 em
  '(?<![\\w~])~(?=\\S)([^~]*?\\S)~(?![\\w~])', // 5 strike
  '<((?:https?:|mailto:)[^|>\\s]+)(?:\\|([^>]+))?>', // 6,7 link
  '<([@#!][^>]*)>', // 8 mention or special
  '(https?:\\/\\/[^\\s<]*[^\\s<.,;:!?)\\]\'"])', // 9 bare URL
].join('|'), 'g');

function link(href, label) {
  const url = safeUrl(href);
  if (!url) return document.createTextNode(label);
  return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, label);
}

/** Inline Markdown (or mrkdwn) as nodes. */
export function inline(text, mrkdwn = false) {
  const pattern = mrkdwn ? MRKDWN_INLINE : MARKDOWN_INLINE;
  const re = new RegExp(pattern.source, 'g');
  const out = [];
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    last = re.lastIndex;
    if (m[1] !== undefined) {
      out.push(h('code', null, m[2]));
    } else if (!mrkdwn) {
      if (m[3] !== undefined || m[4] !== undefined) out.push(h('strong', null, inline(m[3] ?? m[4])));
      else if (m[5] !== undefined) out.push(h('del', null, inline(m[5])));
      else if (m[6] !== undefined || m[7] !== undefined) out.push(h('em', null, inline(m[6] ?? m[7])));
      else if (m[8] !== undefined) out.push(link(m[9], m[8]));
      else out.push(link(m[10], m[10]));
    } else {
      if (m[3] !== undefined) out.push(h('strong', null, inline(m[3], true)));
      else if (m[4] !== undefined) out.push(h('em', null, inline(m[4], true)));
      else if (m[5] !== undefined) out.push(h('del', null, inline(m[5], true)));
      else if (m[6] !== undefined) out.push(link(m[6], m[7] ?? m[6]));
      else if (m[8] !== undefined) out.push(h('span', { class: 'mention' }, m[8].replace(/^!/, '@')));
      else out.push(link(m[9], m[9]));
    }
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Inline text with its line breaks kept. */
function lines(text, mrkdwn) {
  const out = [];
  text.split('\n').forEach((line, i) => {
    if (i > 0) out.push(h('br'));
    out.push(...inline(line, mrkdwn));
  });
  return out;
}

const FENCE = /^\s*(```+|~~~+)\s*([\w+-]*)\s*$/;
const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s*[-*+•]\s+(.*)$/;
const NUMBERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s*(?:>|&gt;)\s?(.*)$/;
const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;
const TABLE_RULE = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;

function cells(row) {
  return row.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((cell) => cell.trim());
}

/**
 * A document of Markdown (or mrkdwn) as a fragment of block elements.
 * Unclosed constructs (a fence still streaming in) render as far as they go.
 */
export function markdown(source, mrkdwn = false) {
  const fragment = document.createDocumentFragment();
  const rows = String(source ?? '').replace(/\r\n?/g, '\n').split('\n');
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) fragment.appendChild(h('p', null, lines(paragraph.join('\n'), mrkdwn)));
    paragraph = [];
  };
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const fence = FENCE.exec(row);
    if (fence) {
      flush();
      const body = [];
      for (i++; i < rows.length && !rows[i].trim().startsWith(fence[1]); i++) body.push(rows[i]);
      const code = h('code', fence[2] ? { 'data-lang': fence[2] } : null, body.join('\n'));
      fragment.appendChild(h('pre', null, code));
      continue;
    }
    if (!row.trim()) { flush(); continue; }
    const heading = mrkdwn ? null : HEADING.exec(row);
    if (heading) {
      flush();
      fragment.appendChild(h(`h${Math.min(6, heading[1].length + 2)}`, null, inline(heading[2])));
      continue;
    }
    if (!mrkdwn && RULE.test(row)) { flush(); fragment.appendChild(h('hr')); continue; }
    if (QUOTE.test(row)) {
      flush();
      const quoted = [];
      for (; i < rows.length && QUOTE.test(rows[i]); i++) quoted.push(QUOTE.exec(rows[i])[1]);
      i--;
      fragment.appendChild(h('blockquote', null, markdown(quoted.join('\n'), mrkdwn)));
      continue;
    }
    const bullet = BULLET.exec(row);
    const numbered = NUMBERED.exec(row);
    if (bullet || numbered) {
      flush();
      const ordered = !bullet;
      const pattern = ordered ? NUMBERED : BULLET;
      const list = h(ordered ? 'ol' : 'ul', ordered && numbered[1] !== '1' ? { start: numbered[1] } : null);
      for (; i < rows.length && pattern.test(rows[i]); i++) {
        const item = pattern.exec(rows[i]);
        list.appendChild(h('li', null, inline(ordered ? item[2] : item[1], mrkdwn)));
      }
      i--;
      fragment.appendChild(list);
      continue;
    }
    if (!mrkdwn && row.includes('|') && i + 1 < rows.length && TABLE_RULE.test(rows[i + 1])) {
      flush();
      const head = cells(row);
      const body = [];
      for (i += 2; i < rows.length && rows[i].includes('|') && rows[i].trim(); i++) body.push(cells(rows[i]));
      i--;
      fragment.appendChild(h('div', { class: 'table-wrap' }, h('table', null,
        h('thead', null, h('tr', null, head.map((cell) => h('th', null, inline(cell))))),
        h('tbody', null, body.map((r) => h('tr', null, head.map((_, c) => h('td', null, inline(r[c] ?? '')))))))));
      continue;
    }
    paragraph.push(row);
  }
  flush();
  return fragment;
}
