"""A chat-completion stream as Responses API events (a Responses client on a chat endpoint).

    first chunk       -> response.created, response.in_progress (the Response, status in_progress)
    content delta     -> response.output_item.added (a message) and response.content_part.added once,
                         then response.output_text.delta
    tool_calls delta  -> response.output_item.added (a function_call with its call id and name), then
                         response.function_call_arguments.delta for its argument pieces
    DONE              -> for every open item its .done events (text, part, arguments, item), then
                         response.completed (or response.incomplete after a length cut) with the whole
                         Response and its usage
    an error chunk    -> an `error` event (the stream ends)
Every event carries `sequence_number`, counting from 0. Item ids are derived from the upstream's ids,
and the items of the final Response are exactly the ones the events built, which is what the SDK's
stream accumulator checks.
"""

from __future__ import annotations

from typing import Any

from .failures import openai_error
from .responses_chat import ResponseHead, function_item, message_item, response_document
from .streams import DONE, Event


class ChatToResponses:
    """One stream's state: the Response being built, its output items, usage and finish reason."""

    def __init__(self, request: dict[str, Any], *, created: int, prompt_tokens: int = 0) -> None:
        self.request = request
        self.created = created
        self.prompt_tokens = prompt_tokens
        self.sequence = 0
        self.response_id = ""
        self.model = ""
        self.output: list[dict[str, Any]] = []  # items in output order, completed at the end
        self.text: dict[str, Any] | None = None  # the message item being streamed
        self.calls: dict[int, dict[str, Any]] = {}  # tool call index -> its function_call item
        self.pieces = 0
        self.usage: dict[str, Any] | None = None
        self.finish = "stop"

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return kind, event

    def _response(self, finish: str | None) -> dict[str, Any]:
        usage = self.usage or {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.pieces}
        output = self.output if finish is not None else []
        head = ResponseHead(self.response_id, self.model, self.created)
        return response_document(head, self.request, output=output, usage=usage, finish=finish)

    def feed(self, name: str, data: Any) -> list[Event]:
        if data == DONE:
            return self._end()
        if not isinstance(data, dict):
            return []
        if "error" in data and not data.get("choices"):
            error = openai_error(500, data)["error"]
            return [self._event("error", code=error["code"], message=error["message"], param=error["param"])]
        events = [] if self.response_id else self._start(data)
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        for choice in data.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self._text(str(delta["content"]))
            if delta.get("refusal"):
                events += self._refusal(str(delta["refusal"]))
            for call in delta.get("tool_calls") or ():
                events += self._call(call)
            if choice.get("finish_reason"):
                self.finish = str(choice["finish_reason"])
        return events

    def _start(self, chunk: dict[str, Any]) -> list[Event]:
        self.response_id = f"resp_{chunk.get('id') or 'stream'}"
        self.model = str(chunk.get("model") or "")
        if isinstance(chunk.get("created"), int):
            self.created = chunk["created"]
        response = self._response(None)
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def _open_text(self, *, refusal: bool = False) -> list[Event]:
        item_id = f"msg_{self.response_id.removeprefix('resp_')}"
        self.text = message_item(item_id, "", refusal=" " if refusal else None, status="in_progress")
        part = self.text["content"][0]
        if refusal:
            part["refusal"] = ""
        index = len(self.output)
        self.text["output_index"] = index
        self.output.append(self.text)
        item = {k: v for k, v in self.text.items() if k != "output_index"} | {"content": []}
        part = {"type": "output_text", "text": "", "annotations": []} if not refusal else dict(part)
        return [
            self._event("response.output_item.added", output_index=index, item=item),
            self._event(
                "response.content_part.added",
                item_id=self.text["id"],
                output_index=index,
                content_index=0,
                part=part,
            ),
        ]

    def _refusal(self, text: str) -> list[Event]:
        self.pieces += 1
        events = self._open_text(refusal=True) if self.text is None else []
        assert self.text is not None
        part = self.text["content"][0]
        if part["type"] != "refusal":
            return events  # a refusal after text: the text stands
        part["refusal"] += text
        fields = {"item_id": self.text["id"], "output_index": self.text["output_index"], "content_index": 0}
        return [*events, self._event("response.refusal.delta", **fields, delta=text)]

    def _text(self, text: str) -> list[Event]:
        self.pieces += 1
        events = self._open_text() if self.text is None else []
        assert self.text is not None
        if self.text["content"][0]["type"] != "output_text":
            return events  # text after a refusal: the refusal stands
        self.text["content"][0]["text"] += text
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=self.text["id"],
                output_index=self.text["output_index"],
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _call(self, call: dict[str, Any]) -> list[Event]:
        number = int(call.get("index", 0))
        function = call.get("function") or {}
        events: list[Event] = []
        item = self.calls.get(number)
        if item is None:
            item = function_item(
                str(call.get("id") or f"call_{number}"),
                str(function.get("name") or ""),
                "",
                status="in_progress",
            )
            item["output_index"] = len(self.output)
            self.output.append(item)
            self.calls[number] = item
            added = {k: v for k, v in item.items() if k != "output_index"}
            events.append(
                self._event("response.output_item.added", output_index=item["output_index"], item=added)
            )
        arguments = str(function.get("arguments") or "")
        if arguments:
            self.pieces += 1
            item["arguments"] += arguments
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=item["output_index"],
                    delta=arguments,
                )
            )
        return events

    def _end(self) -> list[Event]:
        events = [] if self.response_id else self._start({})
        if not self.output:  # an empty answer is one empty message, as in a non-streamed Response
            events += self._open_text()
        for item in self.output:
            index = item.pop("output_index")
            item["status"] = "completed"
            if item["type"] == "message":
                part = item["content"][0]
                fields = {"item_id": item["id"], "output_index": index, "content_index": 0}
                done = (
                    self._event("response.refusal.done", **fields, refusal=part["refusal"])
                    if part["type"] == "refusal"
                    else self._event("response.output_text.done", **fields, text=part["text"], logprobs=[])
                )
                events += [
                    done,
                    self._event(
                        "response.content_part.done",
                        item_id=item["id"],
                        output_index=index,
                        content_index=0,
                        part=part,
                    ),
                ]
            else:
                events.append(
                    self._event(
                        "response.function_call_arguments.done",
                        item_id=item["id"],
                        output_index=index,
                        name=item["name"],
                        arguments=item["arguments"],
                    )
                )
            events.append(self._event("response.output_item.done", output_index=index, item=item))
        response = self._response(self.finish)
        kind = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        return [*events, self._event(kind, response=response)]
