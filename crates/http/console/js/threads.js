// The thread list: search (threads and messages), filters (active, pinned,
// archived, deleted, a tag), and per thread pin, archive, rename, tags,
// delete and restore. On a wide screen the open thread sits beside it; on a
// narrow one (375 px) the list and the thread take turns.

import { all, del, get, patch, post } from './api.js';
import { h, replace, toast, when } from './dom.js';

let layout = null;

const FILTERS = {
  active: { label: 'Active', query: '' },
  pinned: { label: 'Pinned', query: '&pinned=true' },
  archived: { label: 'Archived', query: '&archived=true' },
  deleted: { label: 'Deleted', query: '&deleted=true' },
};

/** A search snippet (escaped HTML with <mark>) as nodes, without innerHTML. */
function snippet(html) {
  const decode = (s) => s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e) =>
    ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" })[e]);
  return html.split(/(<mark>[\s\S]*?<\/mark>)/).map((part) => {
    const marked = /^<mark>([\s\S]*)<\/mark>$/.exec(part);
    return marked ? h('mark', null, decode(marked[1])) : decode(part);
  });
}

function threadTitle(thread) {
  return thread.title || 'Untitled thread';
}

class ThreadList {
  constructor(main) {
    this.filter = 'active';
    this.tag = '';
    this.query = '';
    this.selected = null;
    this.list = h('ul', { class: 'thread-list', 'aria-label': 'Threads' });
    this.results = h('div', { class: 'search-results', 'aria-live': 'polite' });
    this.pane = h('section', { class: 'pane', 'aria-label': 'Thread' });
    const search = h('input', { type: 'search', name: 'q', placeholder: 'Search threads and messages', 'aria-label': 'Search' });
    let debounce = null;
    search.addEventListener('input', () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => { this.query = search.value.trim(); this.refresh(); }, 250);
    });
    const filter = h('select', { 'aria-label': 'Show' },
      Object.entries(FILTERS).map(([key, f]) => h('option', { value: key }, f.label)));
    filter.addEventListener('change', () => { this.filter = filter.value; this.refresh(); });
    this.tagChip = h('span', { class: 'tag-filter' });
    const create = h('button', { type: 'button', class: 'primary', onclick: () => this.create() }, 'New thread');
    this.root = h('div', { class: 'layout' },
      h('aside', { class: 'sidebar' },
        h('div', { class: 'sidebar-tools' }, create, search, h('div', { class: 'row' }, filter, this.tagChip)),
        this.results, this.list),
      this.pane);
    replace(main, this.root);
  }

  async create() {
    try {
      // Untitled: the server names it after its first message.
      const thread = await post('/threads', {});
      location.hash = `#/t/${thread.id}`;
      await this.refresh();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  async refresh() {
    try {
      const tag = this.tag ? `&tag=${encodeURIComponent(this.tag)}` : '';
      const generation = (this.generation = (this.generation || 0) + 1);
      const { items } = await all(`/threads?order=desc${FILTERS[this.filter].query}${tag}`, 500);
      // A later refresh has started: its answer is the one to show.
      if (generation !== this.generation) return;
      // A menu open when the list is redrawn (a change arriving live) stays open.
      const open = this.list.querySelector('details[open]')?.closest('li')?.dataset.id;
      // Pinned threads first, then the most recently active.
      items.sort((a, b) => (b.pinned - a.pinned)
        || (b.last_message_at || b.updated_at).localeCompare(a.last_message_at || a.updated_at));
      replace(this.list, items.length ? items.map((t) => this.row(t)) : h('li', { class: 'muted empty' }, 'No threads here.'));
      if (open) this.list.querySelector(`li[data-id="${open}"] details`)?.setAttribute('open', '');
      replace(this.tagChip, this.tag ? h('button', { type: 'button', class: 'chip', onclick: () => { this.tag = ''; this.refresh(); } }, `#${this.tag} ✕`) : null);
      await this.search();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  async search() {
    if (!this.query) { replace(this.results); return; }
    const hits = await get(`/search?q=${encodeURIComponent(this.query)}&limit=20`);
    replace(this.results, h('h2', { class: 'small' }, `Search: ${hits.length} found`),
      h('ul', null, hits.map((hit) => h('li', null, h('a', { href: `#/t/${hit.thread_id}` },
        h('strong', null, hit.thread_title || 'Untitled thread'), ' ',
        h('span', { class: 'snippet' }, snippet(hit.snippet)))))));
  }

  async change(thread, update, done) {
    try {
      await patch(`/threads/${thread.id}`, update);
      toast(done);
      await this.refresh();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  row(thread) {
    const deleted = Boolean(thread.deleted_at);
    const title = h('a', { class: 'thread-link', href: `#/t/${thread.id}`, 'aria-current': thread.id === this.selected ? 'page' : null },
      h('span', { class: 'title' },
        thread.pinned ? h('span', { class: 'pin', title: 'Pinned', 'aria-label': 'Pinned' }, '★ ') : null,
        threadTitle(thread)),
      h('span', { class: 'meta' }, when(thread.last_message_at || thread.created_at)));
    const tags = h('div', { class: 'tags' }, thread.tags.map((tag) =>
      h('button', { type: 'button', class: 'chip', onclick: () => { this.tag = tag; this.refresh(); } }, `#${tag}`)));
    const actions = h('div', { class: 'thread-actions' });
    const item = h('li', { class: `thread${thread.id === this.selected ? ' selected' : ''}`, dataset: { id: thread.id } },
      deleted ? h('span', { class: 'thread-link' }, h('span', { class: 'title' }, threadTitle(thread))) : title,
      tags, h('details', { class: 'menu' }, h('summary', { 'aria-label': `Actions for ${threadTitle(thread)}` }, '⋯'), actions));
    // A menu closes once one of its actions is chosen.
    const button = (label, onclick) => h('button', {
      type: 'button',
      onclick: (event) => { event.currentTarget.closest('details').open = false; onclick(); },
    }, label);
    if (deleted) {
      actions.append(button('Restore', async () => {
        try { await post(`/threads/${thread.id}/restore`); toast('Restored'); await this.refresh(); } catch (err) { toast(err.message, 'error'); }
      }));
      return item;
    }
    actions.append(
      button(thread.pinned ? 'Unpin' : 'Pin', () => this.change(thread, { pinned: !thread.pinned }, thread.pinned ? 'Unpinned' : 'Pinned')),
      button(thread.archived ? 'Unarchive' : 'Archive', () => this.change(thread, { archived: !thread.archived }, thread.archived ? 'Unarchived' : 'Archived')),
      button('Rename', () => this.inlineForm(item, 'Title', threadTitle(thread), (value) => this.change(thread, { title: value }, 'Renamed'))),
      button('Tags', () => this.inlineForm(item, 'Tags (comma-separated)', thread.tags.join(', '), (value) =>
        this.change(thread, { tags: value.split(',').map((t) => t.trim()).filter(Boolean) }, 'Tags saved'))),
      button('Delete', async () => {
        try {
          await del(`/threads/${thread.id}`);
          toast('Deleted: find it under “Deleted” to restore it');
          if (this.selected === thread.id) location.hash = '#/';
          await this.refresh();
        } catch (err) { toast(err.message, 'error'); }
      }));
    return item;
  }

  inlineForm(item, label, value, save) {
    const input = h('input', { type: 'text', value, 'aria-label': label });
    const form = h('form', { class: 'inline-form' }, input,
      h('button', { type: 'submit' }, 'Save'),
      h('button', { type: 'button', onclick: () => form.remove() }, 'Cancel'));
    form.addEventListener('submit', (event) => { event.preventDefault(); save(input.value.trim()); });
    item.querySelector('details')?.removeAttribute('open');
    item.appendChild(form);
    input.focus();
    input.select();
  }

  select(id) {
    this.selected = id;
    this.root.classList.toggle('has-thread', Boolean(id));
    for (const li of this.list.querySelectorAll('li.thread')) {
      const on = li.dataset.id === id;
      li.classList.toggle('selected', on);
      const link = li.querySelector('a.thread-link');
      if (on) link?.setAttribute('aria-current', 'page');
      else link?.removeAttribute('aria-current');
    }
  }
}

/** The list, with `threadId` open beside it (or a hint when none is). */
export async function threadsView(main, me, threadId, threadView) {
  if (!layout || !main.contains(layout.root)) {
    layout = new ThreadList(main);
    await layout.refresh();
  }
  layout.select(threadId);
  layout.view?.close?.();
  layout.view = null;
  if (!threadId) {
    replace(layout.pane, h('div', { class: 'hint' }, h('p', null, 'Choose a thread, or start a new one.')));
    return { close() {} };
  }
  layout.view = await threadView(layout.pane, me, threadId, { changed: () => layout.refresh() });
  return layout.view;
}
