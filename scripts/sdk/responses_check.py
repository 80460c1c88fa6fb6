#!/usr/bin/env python3
"""Drives a running Experience Layer server's Responses and Conversations
APIs with the official `openai` Python SDK.

    scripts/sdk/responses_check.py http://127.0.0.1:8787/api/v1 xl_… xl_… <thread uuid>

Arguments: the API's base URL, an API key, an API key of a user of another
org, and the id of a thread of the first key's user made through the thread
API (its messages are compared with the conversation the thread is).

The server's model must be the behavioural mock of
crates/server/tests/responses_sdk.rs, so replies say what reached it:
`Echo: <last user text>` plus ` (after: <the user text before>)` when the
prompt held an earlier user message; a call of the first tool offered when
the last message is the user's; `The tool said: <output>` after a tool
output; a paced reply of 40 words when the user text has the word `slow`.

Prints one line per check and `all checks passed` at the end; exits 1 with
the reason at the first failure, 3 when the `openai` package is missing.
The Node twin, responses_check.mjs, makes the same checks.
"""

import json
import sys
import time
import traceback
import urllib.error
import urllib.request
import uuid

try:
    import openai
    from openai import OpenAI
    from openai.types.responses import (
        ResponseCompletedEvent,
        ResponseCreatedEvent,
        ResponseTextDeltaEvent,
    )
except ImportError as err:
    print(
        f"the openai package is not installed ({err}): python3 -m pip install openai",
        file=sys.stderr,
    )
    sys.exit(3)

MODEL = "gpt-4o"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError(f"{name}: {detail}")
    print(f"ok   {name}", flush=True)


def not_found(name, call):
    """Checks that `call()` raises the SDK's NotFoundError (a 404)."""
    try:
        result = call()
    except openai.NotFoundError as err:
        check(name, err.status_code == 404, err)
        return
    raise AssertionError(f"{name}: answered instead of 404: {result!r}")


def item_text(item):
    """The text of a message item (its parts joined), "" for other items."""
    parts = getattr(item, "content", None) or []
    return "".join(getattr(part, "text", None) or "" for part in parts)


def messages(items):
    """(role, text) of the message items, in order."""
    return [(item.role, item_text(item)) for item in items if item.type == "message"]


def event_types(events):
    return [event.type for event in events]


# The events of a streamed reply of one text message, in OpenAI's order
# (others, such as `response.in_progress`, may come between).
STREAM_SHAPE = (
    "response.created",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
)


def collapse(types, kept):
    """The types among `kept`, in order, runs of one type made one."""
    shape = []
    for kind in types:
        if kind in kept and (not shape or shape[-1] != kind):
            shape.append(kind)
    return shape


def http_get(base_url, key, path):
    """GET on the server's own API (not OpenAI's): (status, decoded JSON)."""
    request = urllib.request.Request(
        base_url + path,
        headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            return err.code, json.loads(body)
        except ValueError:
            return err.code, body.decode(errors="replace")


def check_sequence(name, events, start=0):
    numbers = [event.sequence_number for event in events]
    check(name, numbers == list(range(start, start + len(numbers))), numbers)


def main():
    base_url, api_key, other_key, thread_id = sys.argv[1:5]
    # No retries: a failure must show, not be papered over.
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=60)
    other = OpenAI(base_url=base_url, api_key=other_key, max_retries=0, timeout=60)
    print(f"openai {openai.__version__} against {base_url}", flush=True)

    # ---- A response, whole.
    first = client.responses.create(model=MODEL, input="hello from the SDK")
    check("create: output_text", first.output_text == "Echo: hello from the SDK", first.output_text)
    check("create: status completed", first.status == "completed", first.status)
    check(
        "create: usage",
        first.usage is not None and first.usage.input_tokens > 0 and first.usage.output_tokens > 0,
        first.usage,
    )
    check("create: id resp_", first.id.startswith("resp_") and first.object == "response", first.id)
    outputs = [item for item in first.output if item.type == "message"]
    check(
        "create: output message item msg_",
        len(outputs) == 1 and outputs[0].role == "assistant" and outputs[0].id.startswith("msg_"),
        first.output,
    )

    # ---- Streamed: typed events, numbered from 0, deltas making the text.
    events = list(client.responses.create(model=MODEL, input="stream this please", stream=True))
    types = event_types(events)
    deltas = [event for event in events if event.type == "response.output_text.delta"]
    check(
        "stream: typed events",
        isinstance(events[0], ResponseCreatedEvent)
        and isinstance(events[-1], ResponseCompletedEvent)
        and len(deltas) > 1
        and all(isinstance(event, ResponseTextDeltaEvent) for event in deltas),
        [type(event).__name__ for event in events],
    )
    check("stream: response.created first", types[0] == "response.created", types)
    check("stream: response.completed last", types[-1] == "response.completed", types)
    check("stream: event order", collapse(types, STREAM_SHAPE) == list(STREAM_SHAPE), types)
    check_sequence("stream: sequence_number 0, 1, 2, ...", events)
    text = "".join(event.delta for event in deltas)
    final = events[-1].response
    check(
        "stream: deltas make the text",
        text == final.output_text == "Echo: stream this please" and final.status == "completed",
        (text, final.output_text),
    )

    # ---- Chained with previous_response_id: the model sees the earlier turn.
    second = client.responses.create(
        model=MODEL, input="what did I say?", previous_response_id=first.id
    )
    check(
        "chain: previous_response_id reaches the model",
        second.output_text == "Echo: what did I say? (after: hello from the SDK)",
        second.output_text,
    )

    # ---- The input items of a response.
    inputs = client.responses.input_items.list(first.id, order="asc")
    check(
        "input_items: the response's input message",
        messages(inputs.data) == [("user", "hello from the SDK")]
        and inputs.data[0].id.startswith("msg_"),
        inputs.data,
    )

    # ---- A function tool round trip.
    asked = client.responses.create(
        model=MODEL, input="What is the weather in Paris?", tools=[WEATHER]
    )
    calls = [item for item in asked.output if item.type == "function_call"]
    check(
        "tool: function_call get_weather",
        asked.status == "completed"
        and len(calls) == 1
        and calls[0].name == "get_weather"
        and calls[0].call_id
        and (calls[0].id or "").startswith("fc_")
        and json.loads(calls[0].arguments) == {"city": "Paris"},
        asked.output,
    )
    answered = client.responses.create(
        model=MODEL,
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"}],
        tools=[WEATHER],
    )
    check(
        "tool: function_call_output reaches the model",
        answered.output_text == "The tool said: sunny",
        answered.output_text,
    )
    events = list(
        client.responses.create(
            model=MODEL, input="What is the weather in Paris?", tools=[WEATHER], stream=True
        )
    )
    done = [event for event in events if event.type == "response.function_call_arguments.done"]
    streamed_calls = [item for item in events[-1].response.output if item.type == "function_call"]
    check(
        "tool stream: response.function_call_arguments.done",
        len(done) == 1
        and json.loads(done[0].arguments) == {"city": "Paris"}
        and events[-1].type == "response.completed"
        and [call.name for call in streamed_calls] == ["get_weather"],
        event_types(events),
    )

    # ---- A conversation made with the SDK.
    conversation = client.conversations.create(metadata={"topic": "sdk"})
    check(
        "conversation: create",
        conversation.id.startswith("conv_") and conversation.object == "conversation",
        conversation,
    )
    added = client.conversations.items.create(
        conversation.id,
        items=[{"type": "message", "role": "user", "content": "remember the number 42"}],
    )
    check(
        "conversation: items.create",
        messages(added.data) == [("user", "remember the number 42")]
        and added.data[0].id.startswith("msg_"),
        added,
    )
    reply = client.responses.create(model=MODEL, conversation=conversation.id, input="which number?")
    check(
        "conversation: reply sees the added item",
        reply.output_text == "Echo: which number? (after: remember the number 42)",
        reply.output_text,
    )
    items = client.conversations.items.list(conversation.id, order="asc")
    expected = [
        ("user", "remember the number 42"),
        ("user", "which number?"),
        ("assistant", reply.output_text),
    ]
    check("conversation: items.list in order", messages(items.data) == expected, items.data)
    fetched = client.conversations.retrieve(conversation.id)
    check(
        "conversation: retrieve",
        fetched.id == conversation.id and fetched.metadata == {"topic": "sdk"},
        fetched,
    )
    updated = client.conversations.update(
        conversation.id, metadata={"topic": "sdk", "stage": "updated"}
    )
    again = client.conversations.retrieve(conversation.id)
    check(
        "conversation: update metadata",
        updated.metadata == again.metadata == {"topic": "sdk", "stage": "updated"},
        (updated.metadata, again.metadata),
    )
    item = client.conversations.items.retrieve(added.data[0].id, conversation_id=conversation.id)
    check(
        "conversation: items.retrieve",
        item.id == added.data[0].id and item_text(item) == "remember the number 42",
        item,
    )

    # The conversation is a thread of the server's own API.
    thread = str(uuid.UUID(hex=conversation.id[len("conv_"):]))
    status, body = http_get(base_url, api_key, f"/threads/{thread}")
    check(
        "conversation as thread: GET /threads/{uuid}",
        status == 200 and body["data"]["id"] == thread,
        (status, body),
    )
    status, body = http_get(base_url, api_key, f"/threads/{thread}/messages?order=asc&limit=100")
    texts = [message["content"] for message in body["data"]] if status == 200 else body
    check(
        "conversation as thread: messages",
        texts == [text for _, text in expected],
        (status, texts),
    )

    # Another org sees neither the conversation nor a response.
    not_found("cross-org: conversation NotFoundError", lambda: other.conversations.retrieve(conversation.id))
    not_found("cross-org: response NotFoundError", lambda: other.responses.retrieve(first.id))

    client.conversations.items.delete(added.data[0].id, conversation_id=conversation.id)
    left = client.conversations.items.list(conversation.id, order="asc")
    check("conversation: items.delete", messages(left.data) == expected[1:], left.data)
    deleted = client.conversations.delete(conversation.id)
    check("conversation: delete", deleted.deleted and deleted.id == conversation.id, deleted)
    not_found("conversation: retrieve after delete NotFoundError", lambda: client.conversations.retrieve(conversation.id))

    # ---- A thread made through the thread API is a conversation.
    status, body = http_get(base_url, api_key, f"/threads/{thread_id}/messages?order=asc&limit=100")
    check("thread: messages of the thread API", status == 200 and len(body["data"]) > 0, (status, body))
    posted = [(message["role"].lower(), message["content"]) for message in body["data"]]
    conversation_id = "conv_" + uuid.UUID(thread_id).hex
    fetched = client.conversations.retrieve(conversation_id)
    check(
        "thread as conversation: retrieve",
        fetched.id == conversation_id and fetched.object == "conversation",
        fetched,
    )
    items = client.conversations.items.list(conversation_id, order="asc")
    check("thread as conversation: items", messages(items.data) == posted, (items.data, posted))

    # ---- Cancelling a background response mid-reply.
    background = client.responses.create(model=MODEL, input="a slow story please", background=True)
    check(
        "cancel: background response queued or in progress",
        background.status in ("queued", "in_progress"),
        background.status,
    )
    time.sleep(0.3)
    cancelled = client.responses.cancel(background.id)
    check("cancel: status cancelled", cancelled.status == "cancelled", cancelled.status)
    status = client.responses.retrieve(background.id).status
    check("cancel: retrieve says cancelled", status == "cancelled", status)

    # ---- A dropped stream of a background response, resumed.
    stream = client.responses.create(
        model=MODEL, input="a slow stream please", stream=True, background=True
    )
    before = []
    for event in stream:
        before.append(event)
        if sum(event.type == "response.output_text.delta" for event in before) >= 3:
            break
    stream.close()
    check(
        "resume: first events before the drop",
        before[0].type == "response.created" and before[-1].type == "response.output_text.delta",
        event_types(before),
    )
    check_sequence("resume: sequence_number 0, 1, 2, ... before the drop", before)
    response_id = before[0].response.id
    last = before[-1].sequence_number
    after = list(client.responses.retrieve(response_id, stream=True, starting_after=last))
    check(
        "resume: continues at last + 1",
        len(after) > 0 and after[0].sequence_number == last + 1,
        [event.sequence_number for event in after[:3]],
    )
    check_sequence("resume: no gaps or duplicates", after, start=last + 1)
    check("resume: response.completed last", after[-1].type == "response.completed", event_types(after))
    text = "".join(
        event.delta for event in before + after if event.type == "response.output_text.delta"
    )
    final = client.responses.retrieve(response_id)
    check(
        "resume: deltas make the final text",
        final.status == "completed" and text == final.output_text and len(text.split()) == 40,
        (text, final.output_text),
    )

    # ---- Deleting a response.
    client.responses.delete(first.id)
    not_found("delete: retrieve NotFoundError", lambda: client.responses.retrieve(first.id))

    print("all checks passed")


def describe(err):
    """A failure in words: for an API error, the request and the answer."""
    frames = traceback.extract_tb(err.__traceback__)
    where = [frame.lineno for frame in frames if frame.filename == __file__ and frame.name == "main"]
    at = f" (responses_check.py line {where[-1]})" if where else ""
    if isinstance(err, openai.APIStatusError):
        request = err.response.request
        body = err.response.text[:1000]
        return f"{type(err).__name__}{at}: {request.method} {request.url} answered {err.status_code}: {body}"
    return f"{type(err).__name__}{at}: {err}"


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # noqa: BLE001 - any failure fails the check
        print(f"FAIL {describe(err)}", file=sys.stderr)
        sys.exit(1)
