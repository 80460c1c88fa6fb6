// One thread: the messages of the branch on screen (the thread's current
// branch unless another sibling reply is chosen), each with Markdown,
// Block Kit, attachments and reactions; edit with history, delete,
// regenerate, stop; the composer with drag-and-drop uploads; typing and
// presence; the artifacts panel. Everything after the first load arrives
// through the thread's event stream.

import { all, ApiError, del, get, post, put, upload, userName } from './api.js';
import { append, h, replace, toast, when } from './dom.js';
import { markdown } from './markdown.js';
import { blocks as renderBlocks } from './blocks.js';
import { follow } from './live.js';
import { artifactsPanel } from './artifacts.js';

/** Reaction names offered by the picker, with the emoji shown for them. */
const EMOJI = {
  thumbsup: '👍', heart: '❤️', tada: '🎉', laughing: '😄', eyes: '👀', rocket: '🚀',
  thumbsdown: '👎', white_check_mark: '✅', '+1': '👍', fire: '🔥', pray: '🙏',
};
const PICKER = ['thumbsup', 'heart', 'tada', 'laughing', 'eyes', 'rocket'];
/** A cursor past any thread's log: the server answers `reset` with where it is now. */
const NOW = '9007199254740991';
const ROOT = 'root';

class ThreadView {
  constructor(pane, me, id, hooks) {
    this.pane = pane;
    this.me = me;
    this.id = id;
    this.hooks = hooks;
    this.messages = new Map();
    this.children = new Map();
    this.leaf = null;
    this.nodes = new Map();
    this.reactions = new Map();
    this.followers = new Map();
    this.staged = [];
    this.typing = new Map();
    this.present = new Map();
    this.queue = [];
    this.interactions = new Map();
    this.ready = false;
    this.reactionsSeen = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        this.reactionsSeen.unobserve(entry.target);
        this.loadReactions(entry.target.dataset.id);
      }
    });
  }

  // ---- loading ----------------------------------------------------------

  async load() {
    this.ready = false;
    replace(this.pane, h('p', { class: 'loading' }, 'Loading thread…'));
    // The stream first, from "now": its `reset` says where the log is, so
    // the snapshot read after it covers everything before that position.
    const position = new Promise((resolve) => { this.positioned = resolve; });
    this.stream = follow(`/threads/${this.id}/events`, NOW, (event) => this.onEvent(event), (state) => this.onStreamState(state));
    // Should the stream be slow to open, the page is shown without waiting;
    // the position then comes as a `reset` after the snapshot, which makes
    // the view load again (below), so nothing between the two is missed.
    await Promise.race([position, new Promise((resolve) => setTimeout(resolve, 5000))]);
    this.positioned = null;
    const [thread, { items, truncated }, presence] = await Promise.all([
      get(`/threads/${this.id}`),
      // Newest first, so a thread longer than the page limit loses its oldest messages.
      all(`/threads/${this.id}/messages?branch=all&order=desc`),
      get(`/threads/${this.id}/presence`).catch(() => ({ people: [] })),
    ]);
    this.thread = thread;
    // Oldest first, so each message's siblings are in the order they were written.
    for (const message of items.reverse()) this.remember(message);
    this.leaf = thread.current_leaf_id;
    for (const person of presence.people || []) {
      if (person.status !== 'offline') this.present.set(person.user_id, true);
    }
    this.layout(truncated);
    performance.mark('xl:thread-render:start');
    this.render();
    // Reading a layout property makes the browser lay the messages out, so
    // the measure covers building and laying out the page.
    void this.list.offsetHeight;
    performance.mark('xl:thread-render:end');
    performance.measure('xl:thread-render', 'xl:thread-render:start', 'xl:thread-render:end');
    this.scrollToEnd();
    this.ready = true;
    for (const event of this.queue.splice(0)) this.apply(event);
    // A reply still being written when the snapshot was read is rebuilt
    // from its own stream, which starts at its beginning.
    for (const message of this.messages.values()) {
      if (message.status === 'streaming') this.followReply(message.id);
    }
    this.updatePresence();
  }

  layout(truncated) {
    this.title = h('h2', { class: 'thread-title' }, this.thread.title || 'Untitled thread');
    this.presence = h('span', { class: 'presence', 'aria-live': 'polite' });
    this.state = h('span', { class: 'stream-state', title: 'Live updates' });
    this.artifacts = artifactsPanel(this.id);
    const artifactsButton = h('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': `artifacts-${this.id}` }, 'Artifacts');
    artifactsButton.addEventListener('click', () => {
      const open = this.artifacts.toggle();
      artifactsButton.setAttribute('aria-expanded', String(open));
    });
    this.list = h('div', { class: 'messages', role: 'log', 'aria-label': 'Messages' });
    this.activity = h('p', { class: 'typing', 'aria-live': 'polite' });
    this.pane.ondragover = (event) => { event.preventDefault(); this.pane.classList.add('dropping'); };
    this.pane.ondragleave = (event) => { if (event.target === this.pane) this.pane.classList.remove('dropping'); };
    this.pane.ondrop = (event) => {
      event.preventDefault();
      this.pane.classList.remove('dropping');
      for (const file of event.dataTransfer?.files || []) this.stage(file);
    };
    replace(this.pane,
      h('header', { class: 'thread-head' },
        h('a', { class: 'back', href: '#/', 'aria-label': 'Back to threads' }, '‹'),
        this.title, this.state, this.presence, artifactsButton),
      truncated ? h('p', { class: 'muted' }, 'This thread is long: its oldest messages are not shown.') : null,
      h('div', { class: 'thread-body' }, this.list, this.artifacts.element),
      this.activity,
      this.composer());
    if (this.streamState) this.onStreamState(this.streamState);
  }

  remember(message) {
    const known = this.messages.get(message.id);
    this.messages.set(message.id, message);
    if (known) return;
    const parent = message.parent_id || ROOT;
    if (!this.children.has(parent)) this.children.set(parent, []);
    this.children.get(parent).push(message.id);
  }

  /** The branch on screen, root first: from the leaf up through the parents. */
  branch() {
    const path = [];
    let id = this.leaf;
    // The leaf may be unknown (a page limit); then show the newest root's line.
    if (!this.messages.has(id)) id = this.deepest(this.children.get(ROOT)?.at(-1));
    for (let m = this.messages.get(id); m; m = this.messages.get(m.parent_id)) path.push(m);
    return path.reverse();
  }

  /** The newest descendant along the newest children of `id`. */
  deepest(id) {
    let at = id;
    for (let next = this.children.get(at)?.at(-1); next; next = this.children.get(at)?.at(-1)) at = next;
    return at;
  }

  // ---- rendering --------------------------------------------------------

  render() {
    const path = this.branch();
    this.nodes.clear();
    const fragment = document.createDocumentFragment();
    for (const message of path) fragment.appendChild(this.node(message));
    if (!path.length) fragment.appendChild(h('p', { class: 'muted empty' }, 'No messages yet. Say something below.'));
    this.list.replaceChildren(fragment);
  }

  scrollToEnd() {
    this.list.lastElementChild?.scrollIntoView({ block: 'end' });
  }

  author(message, into) {
    if (message.role === 'ASSISTANT') { into.textContent = message.model ? `Assistant · ${message.model}` : 'Assistant'; return; }
    if (message.role === 'SYSTEM') { into.textContent = 'System'; return; }
    if (message.user_id === this.me.id) { into.textContent = this.me.name || 'You'; return; }
    userName(message.user_id).then((name) => { into.textContent = name; });
  }

  node(message) {
    const deleted = Boolean(message.deleted_at);
    const who = h('strong', { class: 'author' });
    this.author(message, who);
    const siblings = this.children.get(message.parent_id || ROOT) || [];
    const index = siblings.indexOf(message.id);
    const el = h('article', {
      class: `msg role-${message.role.toLowerCase()} status-${message.status}${deleted ? ' deleted' : ''}`,
      id: `m-${message.id}`, dataset: { id: message.id }, tabindex: '-1',
    },
    h('header', { class: 'msg-head' }, who,
      h('time', { datetime: message.created_at }, when(message.created_at)),
      message.edited_at && !deleted ? h('span', { class: 'edited' }, '(edited)') : null,
      message.status === 'streaming' ? h('span', { class: 'badge live' }, 'writing…') : null,
      message.status === 'failed' ? h('span', { class: 'badge error' }, 'failed') : null,
      message.status === 'cancelled' ? h('span', { class: 'badge' }, 'stopped') : null,
      siblings.length > 1 ? h('span', { class: 'siblings', role: 'group', 'aria-label': 'Other versions' },
        h('button', { type: 'button', class: 'icon', disabled: index === 0, 'aria-label': 'Previous version', onclick: () => this.switchTo(siblings[index - 1]) }, '‹'),
        `${index + 1}/${siblings.length}`,
        h('button', { type: 'button', class: 'icon', disabled: index === siblings.length - 1, 'aria-label': 'Next version', onclick: () => this.switchTo(siblings[index + 1]) }, '›')) : null),
    h('div', { class: 'content' }, deleted ? h('p', { class: 'muted' }, 'This message was deleted.') : markdown(message.content)),
    message.error ? h('p', { class: 'error' }, message.error) : null,
    !deleted && message.blocks ? renderBlocks(message.blocks, (block, element, chosen) => this.act(message, block, element, chosen)) : null,
    !deleted && message.attachments.length ? this.attachments(message.attachments) : null,
    h('div', { class: 'msg-activity' }, (this.interactions.get(message.id) || []).map((line) => h('p', { class: 'interaction' }, line))),
    deleted ? null : h('footer', { class: 'msg-foot' }, h('div', { class: 'reactions' }), this.actions(message)));
    this.nodes.set(message.id, el);
    const cached = this.reactions.get(message.id);
    if (cached) this.showReactions(message.id, cached);
    else if (!deleted) this.reactionsSeen.observe(el);
    return el;
  }

  /** Re-renders one message in place (a status change, an edit, a reaction). */
  refresh(id) {
    const old = this.nodes.get(id);
    const message = this.messages.get(id);
    if (!old || !message) return;
    old.replaceWith(this.node(message));
  }

  actions(message) {
    const mine = message.user_id === this.me.id || this.me.role === 'ADMIN';
    const button = (label, onclick, cls) => h('button', { type: 'button', class: cls || 'link', onclick }, label);
    // The picker's buttons are made when it is first opened: a long thread
    // then builds only what is seen.
    const choices = h('div', { class: 'picker-list' });
    const picker = h('details', { class: 'picker' }, h('summary', { 'aria-label': 'Add a reaction' }, '☺+'), choices);
    picker.addEventListener('toggle', () => {
      if (!picker.open || choices.firstChild) return;
      append(choices, PICKER.map((name) => h('button', {
        type: 'button', class: 'icon', title: name, 'aria-label': `React with ${name}`,
        onclick: () => { picker.open = false; this.react(message.id, name); },
      }, EMOJI[name])));
    });
    return h('div', { class: 'msg-actions' }, picker,
      message.status === 'streaming' ? button('Stop', () => this.stop(message.id), 'danger small') : null,
      message.role === 'ASSISTANT' && message.status !== 'streaming' ? button('Regenerate', () => this.regenerate(message.id)) : null,
      mine && message.role === 'USER' ? button('Edit', () => this.edit(message.id)) : null,
      message.edited_at ? button('History', () => this.history(message.id)) : null,
      mine ? button('Delete', () => this.remove(message.id)) : null);
  }

  attachments(ids) {
    const box = h('div', { class: 'attachments' });
    for (const id of ids) {
      const slot = h('div', { class: 'attachment' }, 'file');
      box.appendChild(slot);
      get(`/files/${id}`).then((file) => {
        const href = `/api/v1/files/${id}/content`;
        replace(slot, file.content_type.startsWith('image/')
          ? h('a', { href, target: '_blank', rel: 'noopener' }, h('img', { class: 'preview', src: `/api/v1/files/${id}/preview`, alt: file.filename, loading: 'lazy' }))
          : null,
        h('a', { href, download: file.filename }, `${file.filename} (${size(file.size_bytes)})`));
      }).catch(() => replace(slot, h('span', { class: 'muted' }, 'file unavailable')));
    }
    return box;
  }

  // ---- reactions --------------------------------------------------------

  async loadReactions(id) {
    try {
      this.showReactions(id, await get(`/messages/${id}/reactions`));
    } catch {
      // A deleted message has none; nothing to show.
    }
  }

  showReactions(id, summaries) {
    this.reactions.set(id, summaries);
    const box = this.nodes.get(id)?.querySelector('.reactions');
    if (!box) return;
    replace(box, summaries.map((r) => {
      const button = h('button', {
        type: 'button', class: `reaction${r.me ? ' mine' : ''}`, 'aria-pressed': String(r.me),
        onclick: () => this.react(id, r.name),
      }, `${EMOJI[r.name] || `:${r.name}:`} ${r.count}`);
      Promise.all(r.users.map((user) => userName(user))).then((names) => {
        const label = `${names.join(', ')} reacted with ${r.name}`;
        button.title = label;
        button.setAttribute('aria-label', label);
      });
      return button;
    }));
  }

  async react(id, name) {
    try {
      this.showReactions(id, await post(`/messages/${id}/reactions`, { name }));
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  // ---- message actions --------------------------------------------------

  switchTo(id) {
    this.leaf = this.deepest(id);
    this.render();
    this.nodes.get(id)?.focus();
  }

  async stop(id) {
    try { await post(`/messages/${id}/cancel`); } catch (err) { toast(err.message, 'error'); }
  }

  async regenerate(id) {
    try { await post(`/messages/${id}/regenerate`); } catch (err) { toast(err.message, 'error'); }
  }

  async remove(id) {
    try { await del(`/messages/${id}`); } catch (err) { toast(err.message, 'error'); }
  }

  edit(id) {
    const el = this.nodes.get(id);
    const message = this.messages.get(id);
    const content = el.querySelector('.content');
    const area = h('textarea', { rows: 3, 'aria-label': 'Edit message' }, message.content);
    const form = h('form', { class: 'edit-form' }, area,
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Save'),
        h('button', { type: 'button', onclick: () => this.refresh(id) }, 'Cancel')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const updated = await put(`/messages/${id}`, { content: area.value });
        this.messages.set(id, updated);
        this.refresh(id);
      } catch (err) {
        toast(err.message, 'error');
      }
    });
    content.replaceWith(form);
    area.focus();
  }

  async history(id) {
    const el = this.nodes.get(id);
    el.querySelector('.history')?.remove();
    try {
      const revisions = await get(`/messages/${id}/revisions`);
      const panel = h('details', { class: 'history', open: true },
        h('summary', null, `${revisions.length} earlier version${revisions.length === 1 ? '' : 's'}`),
        h('ol', null, revisions.map((r) => h('li', null,
          h('time', { datetime: r.created_at || r.edited_at }, when(r.created_at || r.edited_at)), ' ',
          h('div', { class: 'content' }, markdown(r.content))))));
      el.querySelector('.msg-activity').before(panel);
      panel.querySelector('summary').focus();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  /** Sends a Block Kit interaction as Slack's `block_actions` payload. */
  async act(message, block, element, chosen) {
    const action = {
      type: element.type, action_id: element.action_id, block_id: block.block_id,
      ...chosen, action_ts: (Date.now() / 1000).toFixed(6),
    };
    if (element.text) action.text = element.text;
    try {
      await post('/interactive', {
        type: 'block_actions',
        container: { type: 'message', message_id: message.id, thread_id: this.id },
        actions: [action],
        state: { values: {} },
      });
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  // ---- composer and uploads --------------------------------------------

  composer() {
    this.input = h('textarea', { rows: 2, placeholder: 'Write a message (Markdown). Enter sends, Shift+Enter adds a line.', 'aria-label': 'Message' });
    this.tray = h('div', { class: 'tray' });
    const picker = h('input', { type: 'file', multiple: true, class: 'visually-hidden', id: `file-${this.id}`, tabindex: '-1', 'aria-hidden': 'true' });
    picker.addEventListener('change', () => { for (const file of picker.files) this.stage(file); picker.value = ''; });
    let lastTyping = 0;
    this.input.addEventListener('input', () => {
      if (Date.now() - lastTyping < 3000) return;
      lastTyping = Date.now();
      post(`/threads/${this.id}/typing`).catch(() => null);
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    const form = h('form', { class: 'composer' }, this.tray,
      h('div', { class: 'row' },
        h('label', { class: 'button', for: `file-${this.id}`, tabindex: '0', role: 'button',
          onkeydown: (event) => { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); picker.click(); } } }, 'Attach'),
        picker, this.input, h('button', { type: 'submit', class: 'primary' }, 'Send')),
      h('p', { class: 'hint small' }, 'Drop files anywhere on the thread to attach them.'));
    form.addEventListener('submit', (event) => { event.preventDefault(); this.send(); });
    return form;
  }

  stage(file) {
    const progress = h('progress', { max: 1, value: 0, 'aria-label': `Uploading ${file.name}` });
    // A local picture at once, replaced by the server's preview once uploaded.
    const local = file.type.startsWith('image/') ? URL.createObjectURL(file) : null;
    const thumb = local ? h('img', { class: 'thumb', src: local, alt: '' }) : null;
    const entry = { file, id: null, done: null };
    const chip = h('div', { class: 'staged' }, thumb, h('span', null, file.name), progress,
      h('button', { type: 'button', class: 'icon', 'aria-label': `Remove ${file.name}`, onclick: () => {
        this.staged = this.staged.filter((s) => s !== entry);
        chip.remove();
      } }, '✕'));
    this.tray.appendChild(chip);
    this.staged.push(entry);
    entry.done = upload(file, (fraction) => { progress.value = fraction; })
      .then((record) => {
        entry.id = record.id;
        progress.value = 1;
        chip.classList.add('uploaded');
        if (thumb && record.content_type.startsWith('image/')) {
          thumb.src = `/api/v1/files/${record.id}/preview`;
          URL.revokeObjectURL(local);
        }
      })
      .catch((err) => {
        chip.classList.add('failed');
        toast(`${file.name}: ${err.message}`, 'error');
      });
  }

  async send() {
    const content = this.input.value;
    await Promise.all(this.staged.map((s) => s.done));
    const attachments = this.staged.filter((s) => s.id).map((s) => s.id);
    if (!content.trim() && !attachments.length) return;
    // A message needs text: files sent alone are named.
    const names = this.staged.filter((s) => s.id).map((s) => `📎 ${s.file.name}`).join('\n');
    const body = { content: content.trim() ? content : names };
    if (attachments.length) body.attachments = attachments;
    const shown = this.branch().at(-1);
    if (shown && shown.id !== this.thread.current_leaf_id) body.parent_id = shown.id;
    try {
      await post(`/threads/${this.id}/messages?reply=stream`, body);
      this.input.value = '';
      this.staged = [];
      this.tray.replaceChildren();
    } catch (err) {
      toast(err instanceof ApiError ? err.message : 'sending failed', 'error');
    }
  }

  // ---- live updates -----------------------------------------------------

  onStreamState(state) {
    this.streamState = state;
    if (!this.state) return;
    this.state.textContent = state === 'live' ? '● live' : '○ reconnecting…';
    this.state.classList.toggle('off', state !== 'live');
  }

  onEvent(event) {
    if (event.kind === 'reset') {
      if (this.positioned) { const done = this.positioned; this.positioned = null; done(); return; }
      // The log no longer reaches back to where this view was (or the
      // stream's position came after the snapshot): start over.
      this.close();
      this.load().catch((err) => toast(err.message, 'error'));
      return;
    }
    if (!this.ready) { this.queue.push(event); return; }
    this.apply(event);
  }

  apply(event) {
    const id = event.message_id;
    const p = event.payload || {};
    switch (event.kind) {
      case 'message.created': {
        if (this.messages.has(p.id)) return;
        const shown = this.branch().at(-1);
        this.remember(p);
        // A reply to what is on screen, or a new version of a message on
        // screen (a regenerated reply, an edit's answer), takes the screen.
        const onScreen = this.branch().some((m) => m.id === p.parent_id) || !p.parent_id;
        const extends_ = p.parent_id ? p.parent_id === shown?.id : !shown;
        if (extends_ || onScreen) this.leaf = p.id;
        this.thread.current_leaf_id = p.id;
        if (extends_ && this.children.get(p.parent_id || ROOT).length === 1) {
          // The common case, a reply at the end: add it, leave the rest.
          this.list.querySelector('.empty')?.remove();
          this.list.appendChild(this.node(p));
        } else {
          this.render();
        }
        this.scrollToEnd();
        return;
      }
      case 'message.delta': {
        const message = this.messages.get(id);
        if (!message || message.status !== 'streaming' || this.followers.has(id)) return;
        this.grow(message, p.delta || '');
        return;
      }
      case 'message.completed':
        this.finish(id, p);
        return;
      case 'message.updated': {
        if (!this.messages.has(id)) return;
        if (p.id === id) this.messages.set(id, { ...this.messages.get(id), ...p });
        this.refresh(id);
        return;
      }
      case 'message.deleted': {
        const message = this.messages.get(id);
        if (!message) return;
        Object.assign(message, { content: '', blocks: null, attachments: [], deleted_at: event.created_at });
        this.refresh(id);
        return;
      }
      case 'reaction.added':
      case 'reaction.removed':
        if (this.reactions.has(id) || this.nodes.has(id)) this.loadReactions(id);
        return;
      case 'thread.updated':
        this.thread = { ...this.thread, ...p };
        this.title.textContent = this.thread.title || 'Untitled thread';
        this.hooks.changed();
        return;
      case 'thread.deleted':
        toast('This thread was deleted.');
        this.hooks.changed();
        return;
      case 'interactive.action':
        this.showAction(event);
        return;
      case 'artifact.created':
      case 'artifact.updated':
      case 'artifact.deleted':
        this.artifacts.reload();
        return;
      case 'typing':
        if (event.actor_id && event.actor_id !== this.me.id) {
          this.typing.set(event.actor_id, Date.now() + (p.expires_in_ms || 5000));
          this.updateTyping();
          setTimeout(() => this.updateTyping(), (p.expires_in_ms || 5000) + 50);
        }
        return;
      case 'presence':
        if (p.status === 'offline') this.present.delete(p.user_id);
        else this.present.set(p.user_id, true);
        this.updatePresence();
        return;
      case 'assistant.status':
        this.assistantStatus = p.status === 'idle' ? null : p.status;
        this.updateTyping();
        return;
      case 'access.revoked':
        toast('You can no longer read this thread.', 'error');
        this.close();
        return;
      default:
    }
  }

  /** Appends streamed text to a reply and redraws only its text. */
  grow(message, delta) {
    message.content += delta;
    const content = this.nodes.get(message.id)?.querySelector('.content');
    if (content) replace(content, markdown(message.content));
    this.scrollToEnd();
  }

  async finish(id, payload) {
    const message = this.messages.get(id);
    if (!message) return;
    Object.assign(message, { status: payload.status || message.status, error: payload.error ?? message.error });
    try {
      // The stored reply is the authority on its final text.
      this.messages.set(id, await get(`/messages/${id}`));
    } catch {
      // Keep what was streamed.
    }
    this.refresh(id);
    this.assistantStatus = null;
    this.updateTyping();
  }

  /** Rebuilds a reply that was mid-way when the page loaded from its own stream. */
  followReply(id) {
    const message = this.messages.get(id);
    message.content = '';
    const stream = follow(`/messages/${id}/stream`, '0', (event) => {
      if (event.kind === 'message.delta') this.grow(message, event.payload?.delta || '');
      if (event.kind === 'message.completed') {
        stream.close();
        this.followers.delete(id);
        this.finish(id, event.payload || {});
      }
    });
    this.followers.set(id, stream);
  }

  async showAction(event) {
    const box = this.nodes.get(event.message_id)?.querySelector('.msg-activity');
    const name = await userName(event.actor_id);
    // The payload is the recorded action; what was sent is in its `payload`.
    const action = event.payload?.payload?.action || {};
    const what = action.selected_option ? `chose “${action.selected_option.text?.text ?? action.selected_option.value}”`
      : action.selected_options ? `chose ${action.selected_options.length} option(s)`
        : `pressed “${action.text?.text ?? action.action_id}”`;
    const line = `⚡ ${name} ${what}${action.value !== undefined ? ` (value ${action.value})` : ''}`;
    if (!this.interactions.has(event.message_id)) this.interactions.set(event.message_id, []);
    this.interactions.get(event.message_id).push(line);
    if (box) box.appendChild(h('p', { class: 'interaction' }, line));
    else toast(line);
  }

  updateTyping() {
    const now = Date.now();
    for (const [user, until] of this.typing) if (until <= now) this.typing.delete(user);
    const people = [...this.typing.keys()];
    Promise.all(people.map((user) => userName(user))).then((names) => {
      const parts = [];
      if (names.length) parts.push(`${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`);
      if (this.assistantStatus) parts.push(`Assistant: ${this.assistantStatus}…`);
      this.activity.textContent = parts.join(' · ');
    });
  }

  updatePresence() {
    const people = [...this.present.keys()];
    Promise.all(people.map((user) => (user === this.me.id ? 'you' : userName(user)))).then((names) => {
      replace(this.presence, names.length ? [h('span', { class: 'dot', 'aria-hidden': 'true' }), `here: ${names.join(', ')}`] : '');
    });
  }

  close() {
    this.stream?.close();
    for (const stream of this.followers.values()) stream.close();
    this.followers.clear();
    this.reactionsSeen.disconnect();
  }
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Opens thread `id` in `pane`. */
export async function threadView(pane, me, id, hooks) {
  const view = new ThreadView(pane, me, id, hooks);
  try {
    await view.load();
  } catch (err) {
    view.close();
    append(pane, h('p', { class: 'error', role: 'alert' }, `This thread could not be opened: ${err.message}`));
  }
  return view;
}
