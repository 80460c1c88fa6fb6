// A thread's event stream over EventSource. The browser reconnects by
// itself and sends `Last-Event-ID`, so the server resumes after the last
// event seen, token deltas of a reply in progress included: no text is
// lost or repeated. When the stream is refused (an expired session), the
// session is refreshed and a new EventSource resumes with `?after=`.

import { API, refresh } from './api.js';

/** Every kind of event a thread's stream sends. */
export const KINDS = [
  'message.created', 'message.updated', 'message.deleted', 'message.delta', 'message.completed',
  'reaction.added', 'reaction.removed', 'member.added', 'member.removed',
  'thread.updated', 'thread.deleted', 'thread.restored', 'file.attached', 'file.deleted',
  'artifact.created', 'artifact.updated', 'artifact.deleted', 'interactive.action',
  'reset', 'access.revoked', 'typing', 'presence', 'assistant.status',
];

/**
 * Follows `path` (an SSE route under the API) after `after`, calling
 * `onEvent(event)` with each parsed event in order. Returns `close()`.
 */
export function follow(path, after, onEvent, onState = () => {}) {
  let source = null;
  let last = after;
  let closed = false;
  let retry = 0;
  const open = () => {
    const join = path.includes('?') ? '&' : '?';
    source = new EventSource(`${API}${path}${join}after=${encodeURIComponent(last)}`, { withCredentials: true });
    source.addEventListener('open', () => { retry = 0; onState('live'); });
    for (const kind of KINDS) {
      source.addEventListener(kind, (message) => {
        if (message.lastEventId) last = message.lastEventId;
        let event;
        try { event = JSON.parse(message.data); } catch { return; }
        onEvent(event);
      });
    }
    source.addEventListener('error', async () => {
      if (closed) return;
      onState('reconnecting');
      if (source.readyState !== EventSource.CLOSED) return;
      // Refused outright: renew the session (a no-op if it is fine), then
      // resume after the last event seen, backing off up to 10 s.
      await refresh();
      retry = Math.min(retry + 1, 5);
      setTimeout(() => { if (!closed) open(); }, 500 * 2 ** (retry - 1));
    });
  };
  // A connection that went with the network may not look broken until the
  // next keep-alive (15 s); when the browser says it is offline the stream
  // is closed at once, and reopened after the last event when it is back.
  const offline = () => { source?.close(); onState('reconnecting'); };
  const online = () => { if (!closed) { source?.close(); open(); } };
  window.addEventListener('offline', offline);
  window.addEventListener('online', online);
  open();
  return {
    close() {
      closed = true;
      source?.close();
      window.removeEventListener('offline', offline);
      window.removeEventListener('online', online);
    },
    get last() { return last; },
  };
}
