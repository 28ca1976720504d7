"""A synthetic estate of services, pods and hosts that generated telemetry comes from.

Every generator draws its resources from one ``Fleet``, so logs, metrics and traces of a run talk
about the same services. Resource attributes follow the OpenTelemetry semantic conventions
(``service.*``, ``host.*``, ``k8s.*``, ``cloud.*``). Everything is drawn from a seeded RNG.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from obstack_load import __version__
from obstack_load.core.tenants import SERVICE_NAMES

SCOPE = InstrumentationScope(name="obstack-load", version=__version__)
REGIONS = ("eu-west-1", "us-east-1", "us-west-2", "ap-southeast-1")
LANGUAGES = ("java", "go", "python", "nodejs", "dotnet")


def attributes(values: Mapping[str, object]) -> list[KeyValue]:
    """OTLP ``KeyValue``s from a plain mapping, choosing the AnyValue kind from the Python type."""
    out = []
    for key, value in values.items():
        if isinstance(value, bool):
            any_value = AnyValue(bool_value=value)
        elif isinstance(value, int):
            any_value = AnyValue(int_value=value)
        elif isinstance(value, float):
            any_value = AnyValue(double_value=value)
        else:
            any_value = AnyValue(string_value=str(value))
        out.append(KeyValue(key=key, value=any_value))
    return out


def random_id(rng: random.Random, size: int) -> bytes:
    """A trace (16 bytes) or span (8 bytes) id; never all zeros, which OTLP treats as unset."""
    return (rng.getrandbits(size * 8) | 1).to_bytes(size, "big")


@dataclass(frozen=True)
class Instance:
    """One running copy of a service: a pod on a node. ``resource`` is built once and copied."""

    service: str
    language: str
    pod: str
    host: str
    resource: Resource


class Fleet:
    def __init__(
        self,
        rng: random.Random,
        services: int = 12,
        pods_per_service: int = 3,
        namespace: str = "shop",
    ) -> None:
        """``namespace`` is the Kubernetes namespace (and ``service.namespace``) of every pod."""
        names = rng.sample(SERVICE_NAMES, min(services, len(SERVICE_NAMES)))
        region = rng.choice(REGIONS)
        nodes = [f"ip-10-0-{rng.randint(0, 255)}-{rng.randint(1, 254)}" for _ in range(6)]
        self.services = names
        self.instances: list[Instance] = []
        self.by_service: dict[str, list[Instance]] = {}
        for name in names:
            language = rng.choice(LANGUAGES)
            version = f"{rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
            replica_set = f"{rng.getrandbits(40):010x}"[:10]
            for _ in range(pods_per_service):
                pod = f"{name}-{replica_set}-{rng.getrandbits(25):05x}"[: len(name) + 17]
                host = rng.choice(nodes)
                resource = Resource(
                    attributes=attributes(
                        {
                            "service.name": name,
                            "service.namespace": namespace,
                            "service.version": version,
                            "service.instance.id": f"{rng.getrandbits(64):016x}",
                            "deployment.environment.name": "production",
                            "telemetry.sdk.language": language,
                            "telemetry.sdk.name": "opentelemetry",
                            "host.name": host,
                            "host.arch": "amd64",
                            "os.type": "linux",
                            "k8s.cluster.name": f"prod-{region}",
                            "k8s.namespace.name": namespace,
                            "k8s.deployment.name": name,
                            "k8s.pod.name": pod,
                            "k8s.node.name": host,
                            "cloud.provider": "aws",
                            "cloud.region": region,
                        }
                    )
                )
                instance = Instance(name, language, pod, host, resource)
                self.instances.append(instance)
                self.by_service.setdefault(name, []).append(instance)
