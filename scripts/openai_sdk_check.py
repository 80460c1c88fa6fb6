#!/usr/bin/env python3
"""Drives a running Experience Layer server with the official `openai` SDK.

    scripts/openai_sdk_check.py http://127.0.0.1:8787/api/v1 xl_…

The server must serve the offline `echo` model (no OPENAI_API_KEY), so the
replies are known in advance. Checks models.list and models.retrieve,
chat.completions.create without and with streaming (usage included), and
that failures raise the SDK's typed exceptions (404 unknown model, 401 bad
key). Prints one line per check and exits non-zero on the first failure;
exits 3 when the `openai` package is not installed.
"""

import sys

try:
    import openai
    from openai import OpenAI
except ImportError:
    print("the openai package is not installed: python3 -m pip install openai", file=sys.stderr)
    sys.exit(3)


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError(f"{name}: {detail}")
    print(f"ok   {name}")


def main():
    base_url, api_key = sys.argv[1], sys.argv[2]
    # No retries: a failure must show, not be papered over.
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
    print(f"openai {openai.__version__} against {base_url}")

    models = client.models.list()
    ids = [model.id for model in models.data]
    check("models.list names echo", "echo" in ids, ids)
    echo = client.models.retrieve("echo")
    check("models.retrieve", echo.id == "echo" and echo.object == "model", echo)

    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello from the SDK"},
    ]
    reply = client.chat.completions.create(model="echo", messages=messages)
    content = reply.choices[0].message.content
    check("create: reply", content == "Echo: hello from the SDK", content)
    check("create: object", reply.object == "chat.completion", reply.object)
    check("create: finish_reason", reply.choices[0].finish_reason == "stop", reply.choices[0])
    check(
        "create: usage",
        reply.usage.prompt_tokens > 0
        and reply.usage.completion_tokens > 0
        and reply.usage.total_tokens
        == reply.usage.prompt_tokens + reply.usage.completion_tokens,
        reply.usage,
    )

    stream = client.chat.completions.create(
        model="echo",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage, chunks = [], None, None, 0
    for chunk in stream:
        chunks += 1
        if chunk.object != "chat.completion.chunk":
            raise AssertionError(f"stream: a chunk of type {chunk.object}")
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    text = "".join(pieces)
    check("stream: several chunks", chunks > 3, chunks)
    check("stream: text", text == "Echo: hello from the SDK", text)
    check("stream: finish_reason", finish == "stop", finish)
    check("stream: usage chunk", usage is not None and usage.completion_tokens > 0, usage)

    try:
        client.chat.completions.create(model="gpt-9", messages=messages)
        raise AssertionError("an unknown model was answered")
    except openai.NotFoundError as err:
        check("unknown model: NotFoundError", err.status_code == 404, err)
        check("unknown model: code", err.code == "model_not_found", err.code)

    bad = OpenAI(base_url=base_url, api_key="xl_not-a-key", max_retries=0, timeout=30)
    try:
        bad.models.list()
        raise AssertionError("a bad key was accepted")
    except openai.AuthenticationError as err:
        check("bad key: AuthenticationError", err.status_code == 401, err)

    print("all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # noqa: BLE001 - any failure fails the check
        print(f"FAIL {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(1)
