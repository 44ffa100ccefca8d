"""What every HTTP provider shares: the client, retries, errors (and, apart, SSE and keys).

A provider subclasses `HTTPModel` and supplies four things: the endpoint and its
headers, the request body, how to read a whole reply, and a decoder for a streamed
one. Everything that can go wrong on the wire is turned into a `ProviderError` here,
in one place, with the API key (and every header whose name says it holds a credential:
``api-key``, ``x-goog-api-key``, ``authorization``, a ``*-token``...) scrubbed from every
message.

Server-sent events and the `StreamDecoder` a provider supplies are in `_streaming`;
`Secret` and which headers count as credentials in `_credentials`.

Connections: a call opens its own connection unless the model is used as an async
context manager (``async with model: ...`` pools connections until the block ends)
or was given an ``httpx.AsyncClient`` (which its owner closes). Clients are never
shared across event loops, so a model works from any number of ``asyncio.run``s.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx

from ...errors import ProviderError
from .._guard import check_request_allowed
from ..messages import Message
from ..model import ModelBase, StreamItem
from ..response import Chunk, Response
from ..retries import RetryLater, RetryPolicy, call_with_retries, parse_retry_after
from ._credentials import SECRET_HEADER, Secret, secret_parts
from ._streaming import StreamDecoder, server_sent_events

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["HTTPModel", "Secret", "StreamDecoder"]

logger = logging.getLogger("RC.llm")
_RETRY_STATUSES = frozenset({408, 409, 429})


class HTTPModel(ModelBase):
    """A model reached over HTTP with httpx. Subclasses say how to speak its API."""

    key_env: str = ""
    """The environment variable that holds the API key, for hints."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        settings: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.model_name = model
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.settings = dict(settings or {})
        self._api_key = Secret(api_key or "")
        # a header that carries a credential (Azure's api-key, x-api-key, a bearer
        # token...) is kept as a Secret, so it is scrubbed wherever the key would be
        self._extra_headers: dict[str, str | Secret] = {
            name: Secret(value) if SECRET_HEADER.search(name) else value
            for name, value in (headers or {}).items()
        }
        self._secrets = (self._api_key, *secret_parts(self._extra_headers.values()))
        self._client = client
        self._pool: httpx.AsyncClient | None = None
        self._sleep = sleep

    # --- what a provider supplies -------------------------------------------------

    @abc.abstractmethod
    def _url(self) -> str:
        """The endpoint the request goes to."""

    @abc.abstractmethod
    def _auth_headers(self, key: str) -> dict[str, str]:
        """The headers that carry the API key (called only when there is a key)."""

    @abc.abstractmethod
    def _payload(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None,
        output_schema: type[Any] | None,
        stream: bool,
    ) -> dict[str, Any]:
        """The JSON body of the request."""

    @abc.abstractmethod
    def _parse(self, body: Any, output_schema: type[Any] | None) -> Response:
        """Read a whole reply (already decoded from JSON); KeyError etc. mean malformed."""

    @abc.abstractmethod
    def _decoder(self, output_schema: type[Any] | None) -> StreamDecoder:
        """A fresh decoder for one streamed reply."""

    # --- the public face ------------------------------------------------------------

    async def chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        output_schema: type[Any] | None = None,
    ) -> Response:
        """Send the conversation and return the whole answer (see `ModelBase.chat`)."""
        payload = self._payload(messages, tools, output_schema, False)
        started = time.perf_counter()
        async with self._session() as client:
            body = await call_with_retries(
                lambda number: self._post(client, payload, number), self.retry, self._sleep
            )
        response = self._read(body, output_schema)
        return dataclasses.replace(response, latency=time.perf_counter() - started)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        output_schema: type[Any] | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Yield text chunks as the server sends them, then the final `Response`.

        Retries happen only before the first byte; a stream that breaks later raises
        `ProviderError` (the text already passed on cannot be taken back).
        """
        payload = self._payload(messages, tools, output_schema, True)
        started = time.perf_counter()
        async with self._session() as client:
            reply = await call_with_retries(
                lambda number: self._open(client, payload, number), self.retry, self._sleep
            )
            try:
                if not reply.headers.get("content-type", "").startswith("text/event-stream"):
                    # the server ignored "stream": read it as a whole reply
                    async with asyncio.timeout(self.timeout):
                        body = await self._body(reply)
                    whole = self._read(body, output_schema)
                    if whole.text:
                        yield Chunk(whole.text)
                    final = whole
                else:
                    decoder = self._decoder(output_schema)
                    async for event, data in server_sent_events(reply, self.timeout):
                        chunk = decoder.feed(event, data)
                        if chunk is not None:
                            yield chunk
                    final = decoder.finish()
            except TimeoutError as exc:
                raise self._error(
                    f"the stream stalled: no whole event within {self.timeout:g}s",
                    status=reply.status_code,
                    hint="the server is slow or stuck mid-answer; call again",
                ) from exc
            except httpx.TransportError as exc:
                raise self._error(
                    f"the stream was cut off ({type(exc).__name__})",
                    status=reply.status_code,
                    hint="the connection broke mid-answer; call again",
                ) from exc
            finally:
                await reply.aclose()
        yield dataclasses.replace(final, latency=time.perf_counter() - started)

    async def aclose(self) -> None:
        """Close pooled connections opened by ``async with model``."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()

    async def __aenter__(self) -> Self:
        if self._client is None and self._pool is None:
            self._pool = self._new_client()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model_name!r}, base_url={self.base_url!r})"

    # --- the wire -----------------------------------------------------------------

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10)))

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[httpx.AsyncClient]:
        shared = self._client or self._pool
        if shared is not None:
            yield shared
            return
        async with self._new_client() as client:
            yield client

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        for name, value in self._extra_headers.items():
            headers[name] = value.reveal() if isinstance(value, Secret) else value
        if self._api_key.reveal():
            headers.update(self._auth_headers(self._api_key.reveal()))
        return headers

    def _request(self, client: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Request:
        url = self._url()
        check_request_allowed(url, provider=self.provider, model=self.model_name)
        return client.build_request("POST", url, json=payload, headers=self._headers())

    async def _post(self, client: httpx.AsyncClient, payload: dict[str, Any], number: int) -> Any:
        # httpx's timeout bounds each read: a server trickling a byte at a time would
        # hold the call for ever. This scope bounds the whole attempt, headers to body.
        try:
            async with asyncio.timeout(self.timeout):
                reply = await self._send(client, payload, number, stream=False)
                return await self._body(reply)
        except TimeoutError as exc:
            raise self._timed_out(exc, number) from exc

    async def _open(
        self, client: httpx.AsyncClient, payload: dict[str, Any], number: int
    ) -> httpx.Response:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._send(client, payload, number, stream=True)
        except TimeoutError as exc:
            raise self._timed_out(exc, number) from exc

    def _timed_out(self, exc: Exception, number: int) -> RetryLater:
        last = number > self.retry.max_retries
        tries = f"gave up after {number} attempt{'s' if number > 1 else ''}"
        error = self._error(
            f"no answer within {self.timeout:g}s ({type(exc).__name__})",
            hint=f"the server is slow or overloaded; {tries}" if last else "",
        )
        return self._retry(error, None, number)

    async def _send(
        self, client: httpx.AsyncClient, payload: dict[str, Any], number: int, *, stream: bool
    ) -> httpx.Response:
        tries = f"gave up after {number} attempt{'s' if number > 1 else ''}"
        try:
            reply = await client.send(self._request(client, payload), stream=stream)
        except httpx.TimeoutException as exc:
            raise self._timed_out(exc, number) from exc
        except httpx.TransportError as exc:
            error = self._error(
                f"could not reach {self.base_url} ({type(exc).__name__}: {exc})",
                hint=f"check that the server is running and base_url is right; {tries}",
            )
            raise self._retry(error, None, number) from exc
        if reply.status_code < 400:
            return reply
        await reply.aread()
        await reply.aclose()
        status = reply.status_code
        detail = _server_message(reply)
        if status in _RETRY_STATUSES or status >= 500:
            hint = "rate limited" if status == 429 else "the provider is failing"
            error = self._error(
                f"the server answered {detail}", status=status, hint=f"{hint}; {tries}"
            )
            raise self._retry(error, parse_retry_after(reply.headers), number)
        raise self._error(f"the server answered {detail}", status=status, hint=self._hint(status))

    def _retry(self, error: ProviderError, retry_after: float | None, number: int) -> RetryLater:
        error.retryable = True
        if number <= self.retry.max_retries:
            logger.info("%s; retrying (attempt %d)", error, number + 1)
        return RetryLater(error, retry_after)

    async def _body(self, reply: httpx.Response) -> Any:
        await reply.aread()
        try:
            return json.loads(reply.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._error(
                f"the reply is not valid JSON ({exc})",
                status=reply.status_code,
                hint=f"is {self.base_url} a {self.provider}-compatible endpoint?",
            ) from None

    def _read(self, body: Any, output_schema: type[Any] | None) -> Response:
        try:
            return self._parse(body, output_schema)
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise self._error(
                f"the reply is not in the expected format ({type(exc).__name__}: {exc})",
                status=200,
                hint=f"is {self.base_url} a {self.provider}-compatible endpoint?",
            ) from None

    def _hint(self, status: int) -> str:
        if status in (401, 403):
            return f"check the API key (pass api_key=... or set {self.key_env})"
        if status == 404:
            return f"check the model name and base_url ({self.base_url})"
        if status == 413:
            return "the request is too large; shorten the conversation"
        return "check the request: the model's support for tools and output schemas"

    def _error(self, message: str, *, status: int | None = None, hint: str = "") -> ProviderError:
        """A ProviderError with the API key and secret headers scrubbed from what it says."""
        return ProviderError(
            self._scrub(message),
            provider=self.provider,
            model=self.model_name,
            status=status,
            hint=self._scrub(hint),
        )

    def scrub(self, text: str) -> str:
        """`text` with the API key and every secret header value replaced by ``***``."""
        for secret in self._secrets:
            text = secret.scrub(text)
        return text

    _scrub = scrub


def _server_message(reply: httpx.Response) -> str:
    """What the server said went wrong, shortened."""
    text = reply.text
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(error, str):
            text = error
    text = " ".join(text.split())
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{reply.status_code}: {text}" if text else str(reply.status_code)
