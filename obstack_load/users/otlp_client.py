"""Sending one OTLP/HTTP export through a Locust HTTP client and accounting for the answer."""

from __future__ import annotations

from google.protobuf.message import Message

from obstack_load.accounting import ledger
from obstack_load.telemetry import otlp


def export(
    client,
    signal_name: str,
    message: Message,
    *,
    tenant_id: str,
    api_key: str,
    content_type: str = otlp.PROTOBUF,
    gzip: bool = True,
    path: str | None = None,
) -> bool:
    """POST ``message``; True when the platform accepted it (fully or partially)."""
    signal = otlp.SIGNALS[signal_name]
    items = otlp.count_items(signal_name, message)
    raw = otlp.encode(message, content_type)
    body = otlp.compress(raw) if gzip else raw
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {api_key}"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    with client.post(
        path or signal.path,
        data=body,
        headers=headers,
        name=signal.path,
        catch_response=True,
        context={"obstack_items": items},  # the results plugin counts ingested items from it
    ) as response:
        counts = {
            "requests": 1,
            "sent_items": items,
            "raw_bytes": len(raw),
            "wire_bytes": len(body),
        }
        if response.status_code == 429:
            ledger.record(signal_name, tenant_id, throttled_requests=1, **counts)
            response.failure("throttled (429)")
            return False
        if response.status_code != 200:
            ledger.record(signal_name, tenant_id, failed_requests=1, **counts)
            response.failure(f"HTTP {response.status_code}")
            return False
        try:
            answer = otlp.decode(response.content or b"", signal.response_type, content_type)
        except otlp.DecodeFailure as exc:
            ledger.record(signal_name, tenant_id, failed_requests=1, **counts)
            response.failure(f"undecodable response: {exc}")
            return False
        rejected = getattr(answer.partial_success, signal.rejected_field)
        ledger.record(
            signal_name,
            tenant_id,
            accepted_items=items - rejected,
            rejected_items=rejected,
            **counts,
        )
        if rejected:
            response.failure(f"partial success: {answer.partial_success.error_message}")
        return True
