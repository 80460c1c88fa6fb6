#!/usr/bin/env node
// Drives a running Experience Layer server's Responses and Conversations
// APIs with the official `openai` Node SDK (the version package.json pins;
// install it with `npm ci --prefix scripts/sdk`).
//
//     node scripts/sdk/responses_check.mjs http://127.0.0.1:8787/api/v1 xl_… xl_… <thread uuid>
//
// The twin of responses_check.py: the same arguments, the same checks, the
// same lines printed (one per check, `all checks passed` at the end); exits 1
// with the reason at the first failure, 3 when the SDK is not installed. The
// server's model must be the behavioural mock of
// crates/server/tests/responses_sdk.rs (see responses_check.py for what it
// answers).

let OpenAI;
let VERSION;
try {
  ({ default: OpenAI } = await import('openai'));
  ({ VERSION } = await import('openai/version'));
} catch (err) {
  console.error(`the openai package is not installed (${err.message}): npm ci --prefix scripts/sdk`);
  process.exit(3);
}

const MODEL = 'gpt-4o';
const WEATHER = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};

// The events of a streamed reply of one text message, in OpenAI's order
// (others, such as `response.in_progress`, may come between).
const STREAM_SHAPE = [
  'response.created',
  'response.output_item.added',
  'response.content_part.added',
  'response.output_text.delta',
  'response.output_text.done',
  'response.content_part.done',
  'response.output_item.done',
  'response.completed',
];

class CheckFailed extends Error {}

const show = (value) => {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    return String(value);
  }
};

function check(name, condition, detail = '') {
  if (!condition) {
    throw new CheckFailed(`${name}: ${show(detail)}`);
  }
  console.log(`ok   ${name}`);
}

/** Checks that `call()` rejects with the SDK's NotFoundError (a 404). */
async function notFound(name, call) {
  let result;
  try {
    result = await call();
  } catch (err) {
    if (err instanceof OpenAI.NotFoundError) {
      check(name, err.status === 404, err.message);
      return;
    }
    throw err;
  }
  throw new CheckFailed(`${name}: answered instead of 404: ${show(result)}`);
}

const equal = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The text of a message item (its parts joined), '' for other items. */
const itemText = (item) => (item.content ?? []).map((part) => part.text ?? '').join('');

/** [role, text] of the message items, in order. */
const messages = (items) => items.filter((item) => item.type === 'message').map((item) => [item.role, itemText(item)]);

/** What the SDK's `output_text` gives, for responses it does not add it to (in events). */
const outputText = (response) =>
  response.output
    .filter((item) => item.type === 'message')
    .flatMap((item) => item.content)
    .filter((part) => part.type === 'output_text')
    .map((part) => part.text)
    .join('');

const eventTypes = (events) => events.map((event) => event.type);

/** The types among `kept`, in order, runs of one type made one. */
function collapse(types, kept) {
  const shape = [];
  for (const type of types) {
    if (kept.includes(type) && shape.at(-1) !== type) shape.push(type);
  }
  return shape;
}

function checkSequence(name, events, start = 0) {
  const numbers = events.map((event) => event.sequence_number);
  check(
    name,
    numbers.every((n, i) => n === start + i),
    numbers,
  );
}

async function collect(stream) {
  const events = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** The thread id (a dashed UUID) of a conversation id, and back. */
const threadOf = (conversationId) =>
  conversationId.slice('conv_'.length).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
const conversationOf = (threadId) => `conv_${threadId.replaceAll('-', '').toLowerCase()}`;

async function main() {
  const [baseURL, apiKey, otherKey, threadId] = process.argv.slice(2, 6);
  // No retries: a failure must show, not be papered over.
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });
  const other = new OpenAI({ baseURL, apiKey: otherKey, maxRetries: 0, timeout: 60_000 });
  console.log(`openai ${VERSION} (node ${process.version}) against ${baseURL}`);

  /** GET on the server's own API (not OpenAI's): [status, decoded JSON]. */
  async function httpGet(path) {
    const response = await fetch(baseURL + path, {
      headers: { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' },
    });
    const text = await response.text();
    try {
      return [response.status, JSON.parse(text)];
    } catch {
      return [response.status, text];
    }
  }

  // ---- A response, whole.
  const first = await client.responses.create({ model: MODEL, input: 'hello from the SDK' });
  check('create: output_text', first.output_text === 'Echo: hello from the SDK', first.output_text);
  check('create: status completed', first.status === 'completed', first.status);
  check(
    'create: usage',
    first.usage?.input_tokens > 0 && first.usage?.output_tokens > 0,
    first.usage,
  );
  check('create: id resp_', first.id.startsWith('resp_') && first.object === 'response', first.id);
  const outputs = first.output.filter((item) => item.type === 'message');
  check(
    'create: output message item msg_',
    outputs.length === 1 && outputs[0].role === 'assistant' && outputs[0].id.startsWith('msg_'),
    first.output,
  );

  // ---- Streamed: typed events, numbered from 0, deltas making the text.
  let events = await collect(
    await client.responses.create({ model: MODEL, input: 'stream this please', stream: true }),
  );
  let types = eventTypes(events);
  const deltas = events.filter((event) => event.type === 'response.output_text.delta');
  check(
    'stream: typed events',
    deltas.length > 1 &&
      deltas.every((event) => typeof event.delta === 'string' && typeof event.item_id === 'string') &&
      typeof events[0].response?.id === 'string',
    events.slice(0, 3),
  );
  check('stream: response.created first', types[0] === 'response.created', types);
  check('stream: response.completed last', types.at(-1) === 'response.completed', types);
  check('stream: event order', equal(collapse(types, STREAM_SHAPE), STREAM_SHAPE), types);
  checkSequence('stream: sequence_number 0, 1, 2, ...', events);
  let text = deltas.map((event) => event.delta).join('');
  let final = events.at(-1).response;
  check(
    'stream: deltas make the text',
    text === outputText(final) && text === 'Echo: stream this please' && final.status === 'completed',
    [text, outputText(final)],
  );

  // ---- Chained with previous_response_id: the model sees the earlier turn.
  const second = await client.responses.create({
    model: MODEL,
    input: 'what did I say?',
    previous_response_id: first.id,
  });
  check(
    'chain: previous_response_id reaches the model',
    second.output_text === 'Echo: what did I say? (after: hello from the SDK)',
    second.output_text,
  );

  // ---- The input items of a response.
  const inputs = await client.responses.inputItems.list(first.id, { order: 'asc' });
  check(
    "input_items: the response's input message",
    equal(messages(inputs.data), [['user', 'hello from the SDK']]) && inputs.data[0].id.startsWith('msg_'),
    inputs.data,
  );

  // ---- A function tool round trip.
  const asked = await client.responses.create({
    model: MODEL,
    input: 'What is the weather in Paris?',
    tools: [WEATHER],
  });
  const calls = asked.output.filter((item) => item.type === 'function_call');
  check(
    'tool: function_call get_weather',
    asked.status === 'completed' &&
      calls.length === 1 &&
      calls[0].name === 'get_weather' &&
      Boolean(calls[0].call_id) &&
      (calls[0].id ?? '').startsWith('fc_') &&
      equal(JSON.parse(calls[0].arguments), { city: 'Paris' }),
    asked.output,
  );
  const answered = await client.responses.create({
    model: MODEL,
    previous_response_id: asked.id,
    input: [{ type: 'function_call_output', call_id: calls[0].call_id, output: 'sunny' }],
    tools: [WEATHER],
  });
  check(
    'tool: function_call_output reaches the model',
    answered.output_text === 'The tool said: sunny',
    answered.output_text,
  );
  events = await collect(
    await client.responses.create({
      model: MODEL,
      input: 'What is the weather in Paris?',
      tools: [WEATHER],
      stream: true,
    }),
  );
  const done = events.filter((event) => event.type === 'response.function_call_arguments.done');
  const last = events.at(-1);
  check(
    'tool stream: response.function_call_arguments.done',
    done.length === 1 &&
      equal(JSON.parse(done[0].arguments), { city: 'Paris' }) &&
      last.type === 'response.completed' &&
      equal(
        last.response.output.filter((item) => item.type === 'function_call').map((item) => item.name),
        ['get_weather'],
      ),
    eventTypes(events),
  );

  // ---- A conversation made with the SDK.
  const conversation = await client.conversations.create({ metadata: { topic: 'sdk' } });
  check(
    'conversation: create',
    conversation.id.startsWith('conv_') && conversation.object === 'conversation',
    conversation,
  );
  const added = await client.conversations.items.create(conversation.id, {
    items: [{ type: 'message', role: 'user', content: 'remember the number 42' }],
  });
  check(
    'conversation: items.create',
    equal(messages(added.data), [['user', 'remember the number 42']]) && added.data[0].id.startsWith('msg_'),
    added,
  );
  const reply = await client.responses.create({
    model: MODEL,
    conversation: conversation.id,
    input: 'which number?',
  });
  check(
    'conversation: reply sees the added item',
    reply.output_text === 'Echo: which number? (after: remember the number 42)',
    reply.output_text,
  );
  let items = await client.conversations.items.list(conversation.id, { order: 'asc' });
  const expected = [
    ['user', 'remember the number 42'],
    ['user', 'which number?'],
    ['assistant', reply.output_text],
  ];
  check('conversation: items.list in order', equal(messages(items.data), expected), items.data);
  let fetched = await client.conversations.retrieve(conversation.id);
  check(
    'conversation: retrieve',
    fetched.id === conversation.id && equal(fetched.metadata, { topic: 'sdk' }),
    fetched,
  );
  const updated = await client.conversations.update(conversation.id, {
    metadata: { topic: 'sdk', stage: 'updated' },
  });
  const again = await client.conversations.retrieve(conversation.id);
  const wanted = { topic: 'sdk', stage: 'updated' };
  check(
    'conversation: update metadata',
    // Key order is not part of the contract.
    equal(Object.entries(updated.metadata).sort(), Object.entries(wanted).sort()) &&
      equal(Object.entries(again.metadata).sort(), Object.entries(wanted).sort()),
    [updated.metadata, again.metadata],
  );
  const item = await client.conversations.items.retrieve(added.data[0].id, {
    conversation_id: conversation.id,
  });
  check(
    'conversation: items.retrieve',
    item.id === added.data[0].id && itemText(item) === 'remember the number 42',
    item,
  );

  // The conversation is a thread of the server's own API.
  const thread = threadOf(conversation.id);
  let [status, body] = await httpGet(`/threads/${thread}`);
  check(
    'conversation as thread: GET /threads/{uuid}',
    status === 200 && body.data.id === thread,
    [status, body],
  );
  [status, body] = await httpGet(`/threads/${thread}/messages?order=asc&limit=100`);
  const texts = status === 200 ? body.data.map((message) => message.content) : body;
  check(
    'conversation as thread: messages',
    equal(
      texts,
      expected.map(([, content]) => content),
    ),
    [status, texts],
  );

  // Another org sees neither the conversation nor a response.
  await notFound('cross-org: conversation NotFoundError', () => other.conversations.retrieve(conversation.id));
  await notFound('cross-org: response NotFoundError', () => other.responses.retrieve(first.id));

  await client.conversations.items.delete(added.data[0].id, { conversation_id: conversation.id });
  const left = await client.conversations.items.list(conversation.id, { order: 'asc' });
  check('conversation: items.delete', equal(messages(left.data), expected.slice(1)), left.data);
  const deleted = await client.conversations.delete(conversation.id);
  check('conversation: delete', deleted.deleted === true && deleted.id === conversation.id, deleted);
  await notFound('conversation: retrieve after delete NotFoundError', () =>
    client.conversations.retrieve(conversation.id),
  );

  // ---- A thread made through the thread API is a conversation.
  [status, body] = await httpGet(`/threads/${threadId}/messages?order=asc&limit=100`);
  check('thread: messages of the thread API', status === 200 && body.data.length > 0, [status, body]);
  const posted = body.data.map((message) => [message.role.toLowerCase(), message.content]);
  const conversationId = conversationOf(threadId);
  fetched = await client.conversations.retrieve(conversationId);
  check(
    'thread as conversation: retrieve',
    fetched.id === conversationId && fetched.object === 'conversation',
    fetched,
  );
  items = await client.conversations.items.list(conversationId, { order: 'asc' });
  check('thread as conversation: items', equal(messages(items.data), posted), [items.data, posted]);

  // ---- Cancelling a background response mid-reply.
  const background = await client.responses.create({
    model: MODEL,
    input: 'a slow story please',
    background: true,
  });
  check(
    'cancel: background response queued or in progress',
    ['queued', 'in_progress'].includes(background.status),
    background.status,
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  const cancelled = await client.responses.cancel(background.id);
  check('cancel: status cancelled', cancelled.status === 'cancelled', cancelled.status);
  const cancelledStatus = (await client.responses.retrieve(background.id)).status;
  check('cancel: retrieve says cancelled', cancelledStatus === 'cancelled', cancelledStatus);

  // ---- A dropped stream of a background response, resumed.
  const stream = await client.responses.create({
    model: MODEL,
    input: 'a slow stream please',
    stream: true,
    background: true,
  });
  const before = [];
  for await (const event of stream) {
    before.push(event);
    if (before.filter((seen) => seen.type === 'response.output_text.delta').length >= 3) break;
  }
  // Leaving the loop aborts the request; abort again, to be explicit.
  stream.controller.abort();
  check(
    'resume: first events before the drop',
    before[0].type === 'response.created' && before.at(-1).type === 'response.output_text.delta',
    eventTypes(before),
  );
  checkSequence('resume: sequence_number 0, 1, 2, ... before the drop', before);
  const responseId = before[0].response.id;
  const lastSeen = before.at(-1).sequence_number;
  const after = await collect(
    await client.responses.retrieve(responseId, { stream: true, starting_after: lastSeen }),
  );
  check(
    'resume: continues at last + 1',
    after.length > 0 && after[0].sequence_number === lastSeen + 1,
    after.slice(0, 3).map((event) => event.sequence_number),
  );
  checkSequence('resume: no gaps or duplicates', after, lastSeen + 1);
  check('resume: response.completed last', after.at(-1).type === 'response.completed', eventTypes(after));
  text = [...before, ...after]
    .filter((event) => event.type === 'response.output_text.delta')
    .map((event) => event.delta)
    .join('');
  final = await client.responses.retrieve(responseId);
  check(
    'resume: deltas make the final text',
    final.status === 'completed' && text === final.output_text && text.split(/\s+/).length === 40,
    [text, final.output_text],
  );

  // ---- Deleting a response.
  await client.responses.delete(first.id);
  await notFound('delete: retrieve NotFoundError', () => client.responses.retrieve(first.id));

  console.log('all checks passed');
}

/** A failure in words, with the line of this script it happened at. */
function describe(err) {
  const frames = (err.stack ?? '').split('\n').filter((frame) => frame.includes('responses_check.mjs:'));
  const line = (frames.find((frame) => /\bat (async )?main\b/.test(frame)) ?? frames[0])?.match(
    /responses_check\.mjs:(\d+)/,
  )?.[1];
  const at = line ? ` (responses_check.mjs line ${line})` : '';
  return `${err.constructor?.name ?? 'Error'}${at}: ${err.message}`;
}

try {
  await main();
} catch (err) {
  console.error(`FAIL ${describe(err)}`);
  process.exit(1);
}
