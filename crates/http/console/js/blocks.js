// Block Kit, rendered: section, header, divider, context, actions (buttons,
// selects, overflow, checkboxes, radio buttons), image, rich_text, table and
// markdown, with text objects in plain text or mrkdwn. Interactive elements
// call `act` with what Slack's `block_actions` payload carries for them;
// the thread view sends it to /api/v1/interactive. Blocks of other types
// show their type, so nothing is silently dropped.

import { h, safeUrl } from './dom.js';
import { inline, markdown } from './markdown.js';

/** A text object: plain_text as text, mrkdwn through the renderer. */
export function text(object, block = false) {
  if (!object) return null;
  if (typeof object === 'string') return object;
  if (object.type === 'mrkdwn') return block ? markdown(object.text, true) : inline(object.text, true);
  return object.text;
}

function image(element, cls) {
  const src = safeUrl(element.image_url || element.url || '');
  if (!src) return h('span', { class: 'bk-missing' }, element.alt_text || 'image');
  return h('img', { class: cls, src, alt: element.alt_text || '', loading: 'lazy' });
}

function optionText(option) {
  return option.text?.text ?? option.value;
}

function select(element, block, act) {
  const groups = element.option_groups || [{ options: element.options || [] }];
  const placeholder = element.placeholder ? optionText({ text: element.placeholder }) : 'Choose…';
  const options = groups.flatMap((group) => group.options || []);
  const control = h('select', { class: 'bk-select', 'aria-label': placeholder },
    h('option', { value: '', disabled: true, selected: !element.initial_option }, placeholder),
    groups.map((group) => {
      const items = (group.options || []).map((option) => h('option', {
        value: option.value,
        selected: element.initial_option?.value === option.value,
      }, optionText(option)));
      return group.label ? h('optgroup', { label: group.label.text }, items) : items;
    }));
  control.addEventListener('change', () => {
    const chosen = options.find((option) => option.value === control.value);
    if (!chosen) return;
    act(block, element, { selected_option: { text: chosen.text, value: chosen.value } });
  });
  return control;
}

function choices(element, block, act, multiple) {
  const name = `${block.block_id || 'b'}-${element.action_id}-${Math.random().toString(36).slice(2)}`;
  const box = h('fieldset', { class: 'bk-choices' });
  const inputs = (element.options || []).map((option) => {
    const input = h('input', { type: multiple ? 'checkbox' : 'radio', name, value: option.value });
    box.appendChild(h('label', null, input, ' ', text(option.text)));
    return [input, option];
  });
  box.addEventListener('change', () => {
    const chosen = inputs.filter(([input]) => input.checked).map(([, option]) => ({ text: option.text, value: option.value }));
    act(block, element, multiple ? { selected_options: chosen } : { selected_option: chosen[0] });
  });
  return box;
}

/** One interactive element (or an image or text in a context block). */
function element(el, block, act) {
  switch (el.type) {
    case 'button': {
      const style = el.style ? ` ${el.style}` : '';
      const button = h('button', { type: 'button', class: `bk-button${style}` }, text(el.text));
      button.addEventListener('click', () => {
        const url = el.url && safeUrl(el.url);
        if (url) window.open(url, '_blank', 'noopener');
        act(block, el, el.value !== undefined ? { value: el.value } : {});
      });
      return button;
    }
    case 'static_select':
    case 'overflow':
      return select(el, block, act);
    case 'checkboxes':
      return choices(el, block, act, true);
    case 'radio_buttons':
      return choices(el, block, act, false);
    case 'image':
      return image(el, 'bk-icon');
    case 'plain_text':
    case 'mrkdwn':
      return h('span', null, text(el));
    default:
      return h('span', { class: 'bk-unsupported' }, `[${el.type}]`);
  }
}

function richElements(elements) {
  return (elements || []).map((el) => {
    switch (el.type) {
      case 'text': {
        let node = document.createTextNode(el.text);
        const style = el.style || {};
        if (style.code) node = h('code', null, node);
        if (style.bold) node = h('strong', null, node);
        if (style.italic) node = h('em', null, node);
        if (style.strike) node = h('del', null, node);
        return node;
      }
      case 'link': {
        const url = safeUrl(el.url);
        const label = el.text || el.url;
        return url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, label) : label;
      }
      case 'emoji':
        return el.unicode
          ? String.fromCodePoint(...el.unicode.split('-').map((part) => parseInt(part, 16)))
          : `:${el.name}:`;
      case 'user': return h('span', { class: 'mention' }, `@${el.user_id}`);
      case 'usergroup': return h('span', { class: 'mention' }, `@${el.usergroup_id}`);
      case 'channel': return h('span', { class: 'mention' }, `#${el.channel_id}`);
      case 'broadcast': return h('span', { class: 'mention' }, `@${el.range}`);
      case 'date': return el.fallback || new Date(el.timestamp * 1000).toLocaleString();
      case 'color': return el.value;
      default: return `[${el.type}]`;
    }
  });
}

function richText(block) {
  return h('div', { class: 'bk-rich' }, (block.elements || []).map((part) => {
    switch (part.type) {
      case 'rich_text_section': return h('p', null, richElements(part.elements));
      case 'rich_text_preformatted': return h('pre', null, h('code', null, richElements(part.elements)));
      case 'rich_text_quote': return h('blockquote', null, richElements(part.elements));
      case 'rich_text_list': return h(part.style === 'ordered' ? 'ol' : 'ul',
        { class: `indent-${part.indent || 0}` },
        (part.elements || []).map((item) => h('li', null, richElements(item.elements))));
      default: return h('p', { class: 'bk-unsupported' }, `[${part.type}]`);
    }
  }));
}

function table(block) {
  const settings = block.column_settings || [];
  const cell = (c, i, tag) => {
    const align = settings[i]?.align;
    const content = c.type === 'rich_text' ? richText(c) : c.text;
    return h(tag, align ? { class: `align-${align}` } : null, content);
  };
  const [head, ...rows] = block.rows || [];
  return h('div', { class: 'table-wrap' }, h('table', { class: 'bk-table' },
    head ? h('thead', null, h('tr', null, head.map((c, i) => cell(c, i, 'th')))) : null,
    h('tbody', null, rows.map((row) => h('tr', null, row.map((c, i) => cell(c, i, 'td')))))));
}

/** One block. */
export function block(b, act) {
  switch (b.type) {
    case 'header':
      return h('h3', { class: 'bk-header' }, text(b.text));
    case 'divider':
      return h('hr', { class: 'bk-divider' });
    case 'section': {
      const body = h('div', { class: 'bk-section-body' },
        b.text ? h('div', { class: 'bk-text' }, text(b.text, true)) : null,
        b.fields ? h('div', { class: 'bk-fields' }, b.fields.map((f) => h('div', null, text(f, true)))) : null);
      return h('section', { class: 'bk-section' }, body,
        b.accessory ? h('div', { class: 'bk-accessory' }, element(b.accessory, b, act)) : null);
    }
    case 'context':
      return h('div', { class: 'bk-context' }, (b.elements || []).map((el) => element(el, b, act)));
    case 'actions':
      return h('div', { class: 'bk-actions', role: 'group' }, (b.elements || []).map((el) => element(el, b, act)));
    case 'image':
      return h('figure', { class: 'bk-image' }, image(b, 'bk-img'),
        b.title ? h('figcaption', null, text(b.title)) : null);
    case 'rich_text':
      return richText(b);
    case 'table':
      return table(b);
    case 'markdown':
      return h('div', { class: 'bk-markdown' }, markdown(b.text));
    default:
      return h('div', { class: 'bk-unsupported' }, `[${b.type} block]`);
  }
}

/** A message's blocks. `act(block, element, chosen)` runs on interaction. */
export function blocks(list, act) {
  return h('div', { class: 'blocks' }, (list || []).map((b) => block(b, act)));
}
