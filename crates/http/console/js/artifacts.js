// The artifacts panel of a thread: each artifact with its versions, the
// content of the version chosen, restoring an older one, and export as
// JSON, CSV or PDF (downloads the server renders).

import { get, post } from './api.js';
import { h, replace, toast, when } from './dom.js';

function exportLinks(artifact) {
  return h('p', { class: 'exports' }, 'Export: ', ['json', 'csv', 'pdf'].map((format) =>
    h('a', { class: 'button small', href: `/api/v1/artifacts/${artifact.id}/export?format=${format}`, download: '' }, format.toUpperCase())));
}

async function versions(artifact, into, reload) {
  const list = await get(`/artifacts/${artifact.id}/versions`);
  const shown = h('pre', { class: 'artifact-content' }, JSON.stringify(artifact.content, null, 2));
  replace(into,
    h('ol', { class: 'versions', reversed: true }, list.map((v) => h('li', null,
      h('button', { type: 'button', class: 'link', onclick: () => { shown.textContent = JSON.stringify(v.content, null, 2); } },
        `v${v.version} · ${when(v.created_at)}${v.change_note ? ` · ${v.change_note}` : ''}`),
      v.version !== artifact.version ? h('button', { type: 'button', class: 'link', onclick: async () => {
        try {
          await post(`/artifacts/${artifact.id}/versions/${v.version}/restore`);
          toast(`Restored version ${v.version}`);
          reload();
        } catch (err) { toast(err.message, 'error'); }
      } }, 'restore') : h('span', { class: 'muted' }, ' (current)')))),
    shown, exportLinks(artifact));
}

/** The panel: `element` to place, `toggle()` to show or hide, `reload()`. */
export function artifactsPanel(threadId) {
  const body = h('div');
  const element = h('aside', { class: 'artifacts', id: `artifacts-${threadId}`, hidden: true, 'aria-label': 'Artifacts' },
    h('h3', null, 'Artifacts'), body);
  let open = false;
  const reload = async () => {
    if (!open) return;
    try {
      const items = await get(`/threads/${threadId}/artifacts?limit=100`);
      replace(body, items.length ? h('ul', null, items.map((artifact) => {
        const detail = h('div', { class: 'artifact-detail' });
        const item = h('details', null, h('summary', null, h('strong', null, artifact.title), ` · ${artifact.kind} · v${artifact.version}`), detail);
        item.addEventListener('toggle', () => {
          if (item.open) versions(artifact, detail, reload).catch((err) => toast(err.message, 'error'));
        });
        return h('li', null, item);
      })) : h('p', { class: 'muted' }, 'No artifacts in this thread yet. They are made through the API (POST /threads/{id}/artifacts) or by an assistant.'));
    } catch (err) {
      replace(body, h('p', { class: 'error' }, err.message));
    }
  };
  return {
    element,
    toggle() {
      open = !open;
      element.hidden = !open;
      if (open) reload();
      return open;
    },
    reload,
  };
}
