"""helpers.data.rainfall: the committed files load and are verified, the generator reproduces them bit for bit,
the data has the documented structure and noise, and bad files give clear errors."""
import hashlib
import math

import numpy as np
import pytest
import torch

from helpers.data import rainfall
from helpers.data.paths import PROJECT_ROOT

COMMITTED = PROJECT_ROOT / "data"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_committed_files_have_the_recorded_digests():
    assert sha256(COMMITTED / rainfall.DATA_FILE) == rainfall.DATA_SHA256
    assert sha256(COMMITTED / rainfall.TARGETS_FILE) == rainfall.TARGETS_SHA256


def test_the_cli_regenerates_both_files_bit_for_bit(tmp_path, capsys):
    assert rainfall.main(["--out", str(tmp_path)]) == 0
    for name in (rainfall.DATA_FILE, rainfall.TARGETS_FILE):
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes()
    assert "bit for bit" in capsys.readouterr().out


def test_structure_keys_shapes_dtypes():
    data, targets = rainfall.load_rainfall(COMMITTED), rainfall.load_test_targets(COMMITTED)
    sizes = rainfall.SPLIT_SIZES
    assert list(data) == ["x_train", "y_train", "x_val", "y_val", "x_test"]  # no test targets in here
    for split in ("train", "val"):
        assert data[f"x_{split}"].shape == (sizes[split], 2) and data[f"y_{split}"].shape == (sizes[split],)
    assert data["x_test"].shape == (sizes["test"], 2)
    assert set(targets) == {"y_test", "f_test"} and targets["y_test"].shape == (sizes["test"],)
    assert all(t.dtype == torch.float32 for t in [*data.values(), *targets.values()])


def test_every_point_lies_on_one_of_the_peninsulas():
    data = rainfall.load_rainfall(COMMITTED)
    x = torch.cat([data["x_train"], data["x_val"], data["x_test"]]).double().numpy()
    assert rainfall.in_michigan(x[:, 0], x[:, 1]).all()
    upper = x[:, 1] > 45.9
    assert 0.15 < upper.mean() < 0.4  # both peninsulas, roughly in proportion to their areas


@pytest.mark.parametrize("place, lon, lat, inside", [
    ("Lansing", -84.55, 42.73, True), ("Grand Rapids", -85.67, 42.96, True), ("Alpena", -83.6, 45.06, True),
    ("Newberry (Upper Peninsula)", -85.51, 46.35, True), ("Houghton (Keweenaw)", -88.57, 47.12, True),
    ("Chicago", -87.63, 41.88, False), ("Milwaukee", -87.91, 43.04, False), ("Toledo", -83.55, 41.66, False),
    ("middle of Lake Michigan", -87.0, 43.5, False), ("Saginaw Bay", -83.5, 44.0, False),
])
def test_in_michigan_knows_some_places(place, lon, lat, inside):
    assert bool(rainfall.in_michigan(lon, lat)) is inside, place


def test_targets_are_the_field_plus_noise_of_the_documented_variance():
    data, targets = rainfall.load_rainfall(COMMITTED), rainfall.load_test_targets(COMMITTED)
    x_test = data["x_test"].double().numpy()
    field = rainfall.rainfall_field(x_test[:, 0], x_test[:, 1])
    np.testing.assert_allclose(targets["f_test"].double().numpy(), field, rtol=1e-6, atol=1e-6)
    residuals = []
    for split in ("train", "val"):
        x = data[f"x_{split}"].double().numpy()
        residuals.append(data[f"y_{split}"].double().numpy() - rainfall.rainfall_field(x[:, 0], x[:, 1]))
    residuals.append(targets["y_test"].double().numpy() - field)
    noise = np.concatenate(residuals)
    n = len(noise)
    assert abs(noise.mean()) < 4 * rainfall.NOISE_STD / math.sqrt(n)
    # sample variance of n Gaussians: relative standard deviation sqrt(2 / n)
    assert abs(noise.var() / rainfall.NOISE_VARIANCE - 1) < 4 * math.sqrt(2 / n)


def test_field_is_relative_to_the_michigan_average_and_has_the_described_shape():
    data = rainfall.load_rainfall(COMMITTED)
    x = torch.cat([data["x_train"], data["x_val"], data["x_test"]]).double().numpy()
    assert abs(rainfall.rainfall_field(x[:, 0], x[:, 1]).mean()) < 1e-6
    f = rainfall.rainfall_field
    assert f(-86.2, 42.3) > f(-83.3, 42.3) + 1      # lake-effect west coast wetter than the east
    assert f(-83.9, 44.9) < f(-85.5, 44.9) - 1      # dry north-east Lower Peninsula
    assert f(-88.4, 47.1) > f(-88.0, 46.0) + 1      # Keweenaw snow belt
    assert f(-85.0, 42.0) > f(-85.0, 45.0)          # wetter towards the south


def test_a_tampered_file_is_refused_before_unpickling(tmp_path):
    rainfall.write(tmp_path)
    path = tmp_path / rainfall.DATA_FILE
    torch.save({"x_train": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=r"sha256 .* expected .*python -m helpers.data.rainfall"):
        rainfall.load_rainfall(tmp_path)
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="sha256"):
        rainfall.load_rainfall(tmp_path)


def test_a_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m helpers.data.rainfall"):
        rainfall.load_test_targets(tmp_path)


def test_the_default_folder_is_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("BACKPROP_LAB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        rainfall.load_rainfall()
    rainfall.write()
    assert torch.equal(rainfall.load_rainfall()["x_val"], rainfall.load_rainfall(COMMITTED)["x_val"])


def test_generation_is_deterministic_and_depends_on_the_seed():
    first, second = rainfall.generate(), rainfall.generate()
    assert all(torch.equal(first[0][k], second[0][k]) for k in first[0])
    other = rainfall.generate(seed=rainfall.SEED + 1)
    assert not torch.equal(first[0]["x_train"], other[0]["x_train"])
