"""The Zero to JupyterHub configuration (deploy/z2jh/) against the project it deploys.

Nothing there can be built or run on these machines (no container engine, no Kubernetes), so these checks hold
the paper configuration to the tested recipe instead: the files parse, the CPU-only torch pins are
requirements.txt's, the memory numbers are the ones the README states, the exchange path is nbgrader's, the
instructor hook mounts the course where the instructor's nbgrader config looks for it and leaves students alone,
and every file the Dockerfile copies exists. Fast (no network, no torch import)."""
import ast
import importlib.util
import json
import re
import shlex
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config import Config
from tools.hub.demo import WORKSPACE

ROOT = Path(__file__).resolve().parents[1]
Z2JH = ROOT / "deploy" / "z2jh"
SIZES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}  # KubeSpawner's ByteSpecification: powers of 1024


def values() -> dict:
    return yaml.safe_load((Z2JH / "config.yaml").read_text())


def pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a requirements file, by lower-case name."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def nbgrader_config(*paths: Path) -> Config:
    """The traitlets config the given nbgrader_config.py files produce, later files winning, as nbgrader loads them."""
    config = Config()
    for path in paths:
        namespace = {"get_config": lambda: config, "load_subconfig": lambda *args, **kwargs: None}
        exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 (what nbgrader does with it)
    return config


def constant(path: Path, name: str):
    """A module-level constant of a Python file, read without importing it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path.name} defines no {name}")


ASSIGNMENT = constant(ROOT / "helpers" / "runtime" / "variant.py", "ASSIGNMENT")  # nbgrader's course id


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in (Z2JH / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [tuple(text.split(None, 1)) for text in logical]


def copies() -> list[tuple[list[str], str, list[str]]]:
    """Each COPY: (its --options, its destination, its sources)."""
    result = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "COPY":
            words = shlex.split(arguments)
            options = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            result.append((options, paths[-1], paths[:-1]))
    return result


def docker_env() -> dict[str, str]:
    env = {}
    for instruction, arguments in dockerfile_instructions():
        if instruction == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", arguments)))
    return env


def test_every_configuration_file_parses():
    for path in sorted(Z2JH.rglob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert documents, f"{path.name} holds no YAML document"
    for path in sorted(Z2JH.rglob("*.json")):
        json.loads(path.read_text())
    for path in sorted(Z2JH.rglob("*.py")):
        compile(path.read_text(), str(path), "exec")
    kinds = [d["kind"] for d in yaml.safe_load_all((Z2JH / "exchange-pvc.yaml").read_text())]
    assert kinds == ["PersistentVolumeClaim", "PersistentVolumeClaim", "Job"]
    assert subprocess.run(["sh", "-n", str(Z2JH / "start-workspace.sh")], check=False).returncode == 0


def test_cpu_torch_pins_are_requirements_pins():
    """The image's torch and torchvision are the tested versions, only the CPU build of them."""
    tested = pins((ROOT / "requirements.txt").read_text())
    text = (Z2JH / "requirements-cpu.txt").read_text()
    cpu = pins(text)
    assert set(cpu) == {"torch", "torchvision"}, "requirements-cpu.txt is for the PyTorch index's packages only"
    for name, version in cpu.items():
        assert version.endswith("+cpu"), f"{name}=={version}: without +cpu, PyPI's CUDA build could be taken"
        assert version.removesuffix("+cpu") == tested[name], (
            f"requirements-cpu.txt pins {name}=={version}, requirements.txt {name}=={tested[name]}")
    assert re.search(r"^--index-url https://download\.pytorch\.org/whl/cpu\s*$", text, re.MULTILINE)


def byte_size(text) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT])", str(text))
    assert match, f"{text!r} is not a KubeSpawner byte size"
    return int(float(match.group(1)) * SIZES[match.group(2)])


def readme_assumption(label: str) -> int:
    """A memory number of the README's assumptions table (``| memory limit | 1 GiB | ...``), in bytes."""
    match = re.search(rf"^\|\s*{label}\s*\|\s*(\d+)\s*(MiB|GiB)\s*\|", (Z2JH / "README.md").read_text(), re.MULTILINE)
    assert match, f"README.md states no '{label}' row"
    return int(match.group(1)) << (30 if match.group(2) == "GiB" else 20)


def test_memory_numbers_are_the_stated_assumptions():
    memory = values()["singleuser"]["memory"]
    limit, guarantee = byte_size(memory["limit"]), byte_size(memory["guarantee"])
    assert limit == readme_assumption("memory limit")
    assert guarantee == readme_assumption("memory guarantee")
    # the guarantee is the per-kernel target, so the scheduler never packs more kernels than their peaks allow
    assert guarantee >= readme_assumption("per-kernel peak target")
    assert guarantee <= limit


def test_exchange_mount_is_nbgraders_exchange_root():
    storage = values()["singleuser"]["storage"]
    mounts = storage["extraVolumeMounts"]
    config = nbgrader_config(Z2JH / "nbgrader_config.py")
    (mount,) = [m for m in mounts.values() if m["mountPath"] == config.Exchange.root]
    (volume,) = [v for v in storage["extraVolumes"].values() if v["name"] == mount["name"]]
    claims = {d["metadata"]["name"]: d for d in yaml.safe_load_all((Z2JH / "exchange-pvc.yaml").read_text())
              if d["kind"] == "PersistentVolumeClaim"}
    claim = claims[volume["persistentVolumeClaim"]["claimName"]]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "every pod mounts the exchange at once"
    assert config.CourseDirectory.course_id == ASSIGNMENT


class FakeSpawner(SimpleNamespace):
    """What the instructor hook reads and sets of a KubeSpawner."""


def spawner_for(groups: list[str], shared: dict) -> FakeSpawner:
    return FakeSpawner(user=SimpleNamespace(groups=[SimpleNamespace(name=g) for g in groups]),
                       volumes=shared["volumes"], volume_mounts=shared["volume_mounts"],
                       environment=shared["environment"], extra_pod_config=shared["extra_pod_config"],
                       mem_limit=1 << 30, mem_guarantee=800 << 20, cpu_limit=2, cpu_guarantee=0.25,
                       container_security_context={})


def test_instructor_hook_mounts_the_course_for_instructors_only():
    snippets = values()["hub"]["extraConfig"]
    c = Config()
    namespace = {"c": c}
    for name in sorted(snippets):
        exec(compile(snippets[name], name, "exec"), namespace)  # noqa: S102 (what the hub does with it)
    hook = c.KubeSpawner.pre_spawn_hook
    shared = {"volumes": {"home": {"name": "home"}}, "volume_mounts": {"home": {"name": "home"}},
              "environment": {"OMP_NUM_THREADS": "2"}, "extra_pod_config": {}}
    before = json.dumps(shared, sort_keys=True)

    student = spawner_for(["backprop-lab-students"], shared)
    hook(student)
    assert student.volumes is shared["volumes"] and student.environment is shared["environment"]
    assert student.mem_limit == 1 << 30 and not student.container_security_context

    instructor = spawner_for(["backprop-lab-instructors"], shared)
    hook(instructor)
    assert json.dumps(shared, sort_keys=True) == before, "the class-wide defaults were changed in place"
    (mount,) = [m for key, m in instructor.volume_mounts.items() if key != "home"]
    course_root = nbgrader_config(Z2JH / "nbgrader_config.py", Z2JH / "jupyter-instructor" / "nbgrader_config.py"
                                  ).CourseDirectory.root
    assert course_root == f"{mount['mountPath']}/{ASSIGNMENT}"
    assert instructor.volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] in {
        d["metadata"]["name"] for d in yaml.safe_load_all((Z2JH / "exchange-pvc.yaml").read_text())}
    config_dir = instructor.environment["JUPYTER_CONFIG_PATH"]
    assert any(dest.rstrip("/") == config_dir and src == ["deploy/z2jh/jupyter-instructor/"]
               for _, dest, src in copies()), f"the image has no {config_dir}"
    assert byte_size(instructor.mem_limit) > byte_size(values()["singleuser"]["memory"]["limit"])


def test_dockerfile_copies_files_that_exist():
    sources = [(options, src) for options, _, srcs in copies() for src in srcs]
    assert sources
    for options, src in sources:
        if any(o.startswith("--from=") for o in options):
            continue  # a named build context (the CIFAR-10 archive, never committed), checked by the build
        assert (ROOT / src).exists(), f"the Dockerfile copies {src}, which is not in the repository"


def test_image_paths_match_the_hub_configuration():
    singleuser = values()["singleuser"]
    (hook,) = singleuser["lifecycleHooks"]["postStart"]["exec"]["command"]
    assert [dest for _, dest, src in copies() if src == ["deploy/z2jh/start-workspace.sh"]] == [hook]
    script = (Z2JH / "start-workspace.sh").read_text()
    assert f"home={singleuser['storage']['homeMountPath']}\n" in script
    assert "-m tools.editions" in script and (ROOT / "tools" / "editions.py").is_file()
    assert f'tools.editions --no-start-line "$home/{WORKSPACE}"' in script  # the tested recipe's workspace, beside the assignment
    student = nbgrader_config(Z2JH / "nbgrader_config.py", Z2JH / "jupyter-student" / "nbgrader_config.py")
    assert "assignment_dir" not in student.Exchange  # fetched into the home, as tested
    env = docker_env()
    assert env["JUPYTER_CONFIG_PATH"] == "/etc/backprop-lab/jupyter-student"
    shared_cache_env = constant(ROOT / "helpers" / "data" / "paths.py", "SHARED_CACHE_ENV")
    assert env[shared_cache_env] == "/opt/backprop-lab/data/cache"  # where `make data` builds in WORKDIR


def test_students_do_not_get_the_grading_tools():
    student = Z2JH / "jupyter-student"
    server = json.loads((student / "jupyter_server_config.d" / "backprop-lab-student.json").read_text())
    enabled = server["ServerApp"]["jpserver_extensions"]
    assert enabled["nbgrader.server_extensions.formgrader"] is False
    lab = json.loads((student / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= {k for k, v in lab.items() if v}
    spec = importlib.util.find_spec("nbgrader")  # located, not imported (importing it takes a second)
    if spec is None:
        pytest.skip("nbgrader is not installed")
    package = Path(spec.origin).parent
    for module in enabled:
        assert (package / Path(*module.split(".")[1:])).is_dir(), f"nbgrader has no {module}"
