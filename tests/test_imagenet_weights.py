"""The cached ImageNet VGG is read only after its hash is checked, and never by unpickling code."""
import hashlib
import pickle

import pytest
import torch

from fresh_python import printed_by_fresh_python
from helpers.models import imagenet


def _hub_file(folder, state, prefix_len=8, corrupt=False):
    raw = folder / "raw.pth"
    torch.save(state, raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    if corrupt:
        digest = ("0" if digest[0] != "0" else "1") + digest[1:]
    path = folder / f"tiny-{digest[:prefix_len]}.pth"
    raw.rename(path)
    return path


def test_a_file_whose_hash_matches_its_name_is_loaded(tmp_path):
    state = {"weight": torch.arange(6.0).reshape(2, 3)}
    loaded = imagenet.verified_hub_weights(_hub_file(tmp_path, state))
    assert torch.equal(loaded["weight"], state["weight"])


def test_a_file_whose_hash_differs_from_its_name_is_refused(tmp_path):
    path = _hub_file(tmp_path, {"weight": torch.ones(2)}, corrupt=True)
    with pytest.raises(ValueError, match="corrupt or not the expected file"):
        imagenet.verified_hub_weights(path)


def test_a_file_without_a_hash_in_its_name_is_refused(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"weight": torch.ones(2)}, path)
    with pytest.raises(ValueError, match="sha256 prefix"):
        imagenet.verified_hub_weights(path)


class _Payload:
    def __reduce__(self):
        return (print, ("code ran while loading",))


def test_a_pickle_that_would_run_code_is_not_executed(tmp_path, capsys):
    path = _hub_file(tmp_path, {"weight": _Payload()})
    with pytest.raises(pickle.UnpicklingError):
        imagenet.verified_hub_weights(path)
    assert "code ran" not in capsys.readouterr().out


def test_no_cached_weights_means_no_model_and_no_download(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert imagenet.cached_vgg13_bn() is None
    assert list(tmp_path.iterdir()) == []


def test_the_file_looked_for_is_torchvisions_and_torchvision_is_not_imported_without_it(tmp_path):
    from torchvision.models import VGG13_BN_Weights
    assert imagenet.VGG13_BN_FILE == VGG13_BN_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    script = ("import sys, torch\n"
              f"torch.hub.set_dir({str(tmp_path)!r})\n"
              "from helpers.models import imagenet\n"
              "assert imagenet.cached_vgg13_bn() is None\n"
              "print('torchvision' in sys.modules)\n")
    assert printed_by_fresh_python(script) == "False"
