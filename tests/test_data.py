"""Tests for tunescope.core.data: splits, the Keras loaders, npz files and image folders."""

from __future__ import annotations

import gzip
import io
import logging
import pickle
import struct
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tunescope.core.config import DatasetConfig
from tunescope.core.data import KERAS_DATASETS, Dataset, InputPipelines, load_dataset
from tunescope.core.errors import DataError

DIGITS_COUNT = 1797


def class_shares(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    return np.bincount(labels, minlength=num_classes) / len(labels)


# -- digits and splitting ----------------------------------------------------


def test_digits_default_split_sizes():
    dataset = load_dataset(DatasetConfig(name="digits"))

    # scikit-learn rounds the cut size up: ceil(0.2 * 1797) = 360 test, then
    # ceil(0.2 * 1437) = 288 validation.
    assert len(dataset.x_test) == 360
    assert len(dataset.x_val) == 288
    assert len(dataset.x_train) == DIGITS_COUNT - 360 - 288
    assert len(dataset.y_train) == len(dataset.x_train)


def test_digits_arrays_types_and_ranges():
    dataset = load_dataset(DatasetConfig(name="digits"))

    assert dataset.input_shape == (8, 8, 1)
    assert dataset.num_classes == 10
    for x in (dataset.x_train, dataset.x_val, dataset.x_test):
        assert x.dtype == np.float32
        assert x.min() >= 0.0
        assert x.max() <= 1.0
    for y in (dataset.y_train, dataset.y_val, dataset.y_test):
        assert y.dtype == np.int64
        assert y.ndim == 1
    assert dataset.x_train.max() == 1.0


def test_digits_custom_fractions():
    dataset = load_dataset(DatasetConfig(name="digits", validation_split=0.1, test_split=0.3))

    assert len(dataset.x_test) == 540
    assert len(dataset.x_val) == 126
    assert len(dataset.x_train) == DIGITS_COUNT - 540 - 126


def test_digits_splits_are_stratified():
    dataset = load_dataset(DatasetConfig(name="digits"), seed=3)
    overall = class_shares(np.concatenate([dataset.y_train, dataset.y_val, dataset.y_test]))

    for labels in (dataset.y_train, dataset.y_val, dataset.y_test):
        assert np.abs(class_shares(labels) - overall).max() < 0.01


def test_digits_same_seed_same_split():
    first = load_dataset(DatasetConfig(name="digits", train_size=200, test_size=50), seed=7)
    second = load_dataset(DatasetConfig(name="digits", train_size=200, test_size=50), seed=7)

    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name


def test_digits_other_seed_other_split():
    first = load_dataset(DatasetConfig(name="digits"), seed=1)
    second = load_dataset(DatasetConfig(name="digits"), seed=2)

    assert not np.array_equal(first.y_train, second.y_train)
    assert not np.array_equal(first.x_test, second.x_test)


def test_digits_train_size_subset():
    dataset = load_dataset(DatasetConfig(name="digits", train_size=100, validation_split=0.2))

    assert len(dataset.x_train) == 100
    # The validation split keeps its 20% share next to 100 training samples.
    assert len(dataset.x_val) == 25
    assert len(dataset.x_test) == 360
    assert np.array_equal(np.bincount(dataset.y_train, minlength=10), np.full(10, 10))


def test_digits_test_size_subset():
    dataset = load_dataset(DatasetConfig(name="digits", test_size=50))

    assert len(dataset.x_test) == 50
    assert np.bincount(dataset.y_test, minlength=10).min() >= 4
    assert len(dataset.x_train) == DIGITS_COUNT - 360 - 288


def test_train_size_beyond_data_keeps_all(caplog):
    with caplog.at_level(logging.WARNING, logger="tunescope.core.data"):
        dataset = load_dataset(DatasetConfig(name="digits", train_size=5000))

    assert len(dataset.x_train) == DIGITS_COUNT - 360 - 288
    assert "train_size 5000" in caplog.text


def test_describe_one_line():
    dataset = load_dataset(DatasetConfig(name="digits"))

    assert dataset.describe() == "digits: 1149 train, 288 val, 360 test, 8x8x1, 10 classes"


def test_describe_flat_features():
    zeros = np.zeros((4, 5), np.float32)
    labels = np.array([0, 1, 0, 1])
    dataset = Dataset("table", zeros, labels, zeros, labels, zeros, labels, num_classes=2)

    assert dataset.input_shape == (5,)
    assert dataset.describe() == "table: 4 train, 4 val, 4 test, 5 features, 2 classes"


def test_splits_disjoint_and_complete(tmp_path):
    # Each sample's single feature is its index, so samples can be traced.
    path = tmp_path / "ids.npz"
    ids = np.arange(200, dtype=np.float32).reshape(-1, 1)
    np.savez(path, x_train=ids, y_train=np.arange(200) % 4)

    dataset = load_dataset(DatasetConfig(name="npz", path=path))
    parts = [dataset.x_train.ravel(), dataset.x_val.ravel(), dataset.x_test.ravel()]

    assert sum(len(p) for p in parts) == 200
    assert np.array_equal(np.sort(np.concatenate(parts)), ids.ravel())
    assert np.array_equal(dataset.y_train, dataset.x_train.ravel().astype(np.int64) % 4)


def test_unstratifiable_labels_still_split(tmp_path, caplog):
    path = tmp_path / "rare.npz"
    labels = np.array([0] * 19 + [1])
    np.savez(path, x_train=np.random.default_rng(0).random((20, 3)), y_train=labels)

    with caplog.at_level(logging.WARNING, logger="tunescope.core.data"):
        dataset = load_dataset(DatasetConfig(name="npz", path=path))

    assert len(dataset.x_train) + len(dataset.x_val) + len(dataset.x_test) == 20
    assert "without stratification" in caplog.text


def test_data_module_imports_no_tensorflow():
    code = "import sys, tunescope.core.data; print(sorted(m for m in ('tensorflow', 'keras', 'PIL') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)

    assert result.stdout.strip() == "[]"


# -- keras.datasets through a temporary Keras cache ------------------------------


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty Keras home that keras.utils.get_file reads and writes."""
    from keras.src.backend import config as keras_config

    home = tmp_path / "keras-home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    # Keras 3.15 reads KERAS_HOME once, at import, so the value it read is
    # pointed at the temporary home as well.
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(home))
    return home


@pytest.fixture
def accept_any_checksum(monkeypatch):
    """Let get_file accept stand-in files whose SHA-256 differs from the real download.

    The mnist and CIFAR loaders pass the official file's SHA-256 to get_file,
    which re-downloads any cached file that does not match it. Only that check
    is replaced, and the loaders' file names, extraction and parsing all run.
    """
    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "validate_file", lambda *args, **kwargs: True)


def write_mnist(home: Path, train: int = 30, test: int = 12) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(test) % 10).astype(np.uint8),
    }
    (home / "datasets").mkdir(parents=True, exist_ok=True)
    np.savez(home / "datasets" / "mnist.npz", **arrays)
    return arrays


def write_fashion_mnist(home: Path, train: int = 30, test: int = 12) -> dict[str, np.ndarray]:
    """Write the four IDX files, gzipped, that keras.datasets.fashion_mnist reads."""
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(test) % 10).astype(np.uint8),
    }
    folder = home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "train-labels-idx1-ubyte.gz": struct.pack(">II", 2049, train) + arrays["y_train"].tobytes(),
        "train-images-idx3-ubyte.gz": struct.pack(">IIII", 2051, train, 28, 28) + arrays["x_train"].tobytes(),
        "t10k-labels-idx1-ubyte.gz": struct.pack(">II", 2049, test) + arrays["y_test"].tobytes(),
        "t10k-images-idx3-ubyte.gz": struct.pack(">IIII", 2051, test, 28, 28) + arrays["x_test"].tobytes(),
    }
    for name, content in files.items():
        with gzip.open(folder / name, "wb") as handle:
            handle.write(content)
    return arrays


def cifar_batch(images: np.ndarray, labels: dict[str, list[int]]) -> bytes:
    """Pickle one CIFAR batch: bytes keys, data as (N, 3072) uint8 in channel-first order."""
    batch = {b"data": images.reshape(len(images), 3072), **{key.encode(): value for key, value in labels.items()}}
    # Protocol 4 stores bytes and arrays with opcodes that Keras'
    # restricted unpickler accepts.
    return pickle.dumps(batch, protocol=4)


def write_tar(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


def channel_coded_images(count: int, offset: int) -> np.ndarray:
    """Images (N, 3, 32, 32) whose channel c of image i is filled with (offset + 10*i + c) mod 256."""
    images = np.empty((count, 3, 32, 32), np.uint8)
    for i in range(count):
        for channel in range(3):
            images[i, channel] = (offset + 10 * i + channel) % 256
    return images


def test_mnist_loads_from_keras_cache(keras_home, no_network, accept_any_checksum):
    arrays = write_mnist(keras_home)

    dataset = load_dataset(DatasetConfig(name="mnist", validation_split=0.2))

    assert dataset.input_shape == (28, 28, 1)
    assert np.allclose(dataset.x_test[..., 0], arrays["x_test"] / 255.0)
    assert np.array_equal(dataset.y_test, arrays["y_test"])
    assert len(dataset.x_train) == 24
    assert len(dataset.x_val) == 6
    assert dataset.num_classes == 10
    assert no_network == []


def test_fashion_mnist_loads_from_keras_cache(keras_home, no_network):
    arrays = write_fashion_mnist(keras_home)

    dataset = load_dataset(DatasetConfig(name="fashion_mnist"))

    assert dataset.input_shape == (28, 28, 1)
    assert np.allclose(dataset.x_test[..., 0], arrays["x_test"] / 255.0)
    assert np.array_equal(dataset.y_test, arrays["y_test"])
    assert len(dataset.x_train) + len(dataset.x_val) == 30
    assert no_network == []


def test_cifar10_loads_from_keras_cache(keras_home, no_network, accept_any_checksum):
    # Keras 3.15 fills a fixed 50,000-sample array, 10,000 rows per batch
    # file, so a one-image batch is broadcast over its 10,000 rows.
    members = {
        f"cifar-10-batches-py/data_batch_{i}": cifar_batch(channel_coded_images(1, offset=i), {"labels": [i]})
        for i in range(1, 6)
    }
    members["cifar-10-batches-py/test_batch"] = cifar_batch(channel_coded_images(3, offset=100), {"labels": [7, 8, 9]})
    write_tar(keras_home / "datasets" / "cifar-10-batches-py-target_archive", members)

    dataset = load_dataset(DatasetConfig(name="cifar10", train_size=50))

    assert dataset.input_shape == (32, 32, 3)
    assert np.array_equal(dataset.y_test, [7, 8, 9])
    # Channels last: channel c of test image i is filled with 100 + 10*i + c.
    assert np.allclose(dataset.x_test[1, 5, 5] * 255.0, [110, 111, 112])
    assert len(dataset.x_train) == 50
    assert set(dataset.y_train.tolist()) == {1, 2, 3, 4, 5}
    for label in range(1, 6):
        assert np.allclose(dataset.x_train[dataset.y_train == label][0, 0, 0] * 255.0, [label, label + 1, label + 2])
    assert no_network == []


def test_cifar100_loads_fine_labels(keras_home, no_network, accept_any_checksum):
    train_labels = {"fine_labels": [i % 20 for i in range(40)], "coarse_labels": [i % 5 for i in range(40)]}
    test_labels = {"fine_labels": list(range(10)), "coarse_labels": [0] * 10}
    members = {
        "cifar-100-python/train": cifar_batch(channel_coded_images(40, offset=0), train_labels),
        "cifar-100-python/test": cifar_batch(channel_coded_images(10, offset=0), test_labels),
    }
    write_tar(keras_home / "datasets" / "cifar-100-python-target_archive", members)

    dataset = load_dataset(DatasetConfig(name="cifar100"))

    assert dataset.input_shape == (32, 32, 3)
    assert np.array_equal(dataset.y_test, np.arange(10))
    assert len(dataset.x_train) + len(dataset.x_val) == 40
    assert dataset.num_classes == 20
    assert no_network == []


@pytest.mark.parametrize(
    ("name", "directory", "file", "origin"),
    [
        ("mnist", "datasets", "mnist.npz", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"),
        (
            "fashion_mnist",
            "datasets/fashion-mnist",
            "train-labels-idx1-ubyte.gz",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/train-labels-idx1-ubyte.gz",
        ),
        (
            "cifar10",
            "datasets",
            "cifar-10-batches-py-target_archive",
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        ),
        (
            "cifar100",
            "datasets",
            "cifar-100-python-target_archive",
            "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        ),
    ],
)
def test_keras_dataset_missing_file(keras_home, no_network, name, directory, file, origin):
    with pytest.raises(DataError) as caught:
        load_dataset(DatasetConfig(name=name))

    message = str(caught.value)
    assert "\n" not in message
    assert f"the file {file} is not in {keras_home / directory}" in message
    assert f"download it from {origin}" in message
    assert "no network" in message
    assert no_network, "the loader never tried to download"


@pytest.mark.parametrize("name", sorted(KERAS_DATASETS))
def test_keras_sources_match_installed_loader(name):
    """The file names and URLs in KERAS_DATASETS appear in the installed Keras loader's source."""
    import inspect

    import keras

    loader_source = inspect.getsource(getattr(keras.datasets, name).load_data)
    source = KERAS_DATASETS[name]

    for file, origin in zip(source.files, source.origins):
        # get_file appends "_archive" to the name of an archive it extracts.
        assert file.removesuffix("_archive") in loader_source
        assert origin.rsplit("/", 1)[0] + "/" in loader_source
    assert source.subdir.replace("\\", "/").split("/")[-1] in loader_source


def test_fashion_mnist_one_file_missing(keras_home, no_network):
    write_fashion_mnist(keras_home)
    (keras_home / "datasets" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").unlink()

    with pytest.raises(DataError, match="the file t10k-images-idx3-ubyte.gz is not in"):
        load_dataset(DatasetConfig(name="fashion_mnist"))


def test_mnist_checksum_mismatch(keras_home, no_network):
    write_mnist(keras_home)

    with pytest.raises(DataError) as caught:
        load_dataset(DatasetConfig(name="mnist"))

    assert "mnist.npz in" in str(caught.value)
    assert "does not match the official file" in str(caught.value)
    assert no_network


def test_fashion_mnist_corrupt_file(keras_home, no_network):
    write_fashion_mnist(keras_home)
    (keras_home / "datasets" / "fashion-mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip data")

    with pytest.raises(DataError) as caught:
        load_dataset(DatasetConfig(name="fashion_mnist"))

    assert "cannot be read" in str(caught.value)
    assert "delete" in str(caught.value)
    assert no_network == []


def test_keras_home_variable_honoured(tmp_path):
    """KERAS_HOME set before keras is imported, as a user would, with no patching of Keras."""
    home = tmp_path / "home"
    write_fashion_mnist(home)
    script = textwrap.dedent(
        """
        import socket
        def block(*args, **kwargs):
            raise ConnectionRefusedError("network blocked by the test")
        socket.socket.connect = block
        socket.getaddrinfo = block
        from tunescope.core.config import DatasetConfig
        from tunescope.core.data import load_dataset
        print(load_dataset(DatasetConfig(name="fashion_mnist")).describe())
        """
    )
    env = {**__import__("os").environ, "KERAS_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("fashion_mnist: 24 train, 6 val, 12 test, 28x28x1, 10 classes")


# -- npz files -----------------------------------------------------------------


def good_arrays(count: int = 20) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x_train": rng.random((count, 6)).astype(np.float32), "y_train": np.arange(count) % 2}


def save_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_npz_flat_features(tmp_path):
    arrays = good_arrays(40)
    path = save_npz(tmp_path / "flat.npz", **arrays)

    dataset = load_dataset(DatasetConfig(name="npz", path=path))

    assert dataset.input_shape == (6,)
    assert dataset.x_train.dtype == np.float32
    assert dataset.name == "flat.npz"
    assert len(dataset.x_train) + len(dataset.x_val) + len(dataset.x_test) == 40


def test_npz_greyscale_gets_channel(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (20, 5, 4), dtype=np.uint8)
    path = save_npz(tmp_path / "grey.npz", x_train=images, y_train=np.arange(20) % 2)

    dataset = load_dataset(DatasetConfig(name="npz", path=path))

    assert dataset.input_shape == (5, 4, 1)
    assert dataset.x_train.max() <= 1.0


def test_npz_uint8_scaled(tmp_path):
    images = np.full((20, 3, 3, 3), 255, dtype=np.uint8)
    path = save_npz(tmp_path / "rgb.npz", x_train=images, y_train=np.arange(20) % 2)

    dataset = load_dataset(DatasetConfig(name="npz", path=path))

    assert np.all(dataset.x_train == 1.0)


def test_npz_float_kept(tmp_path):
    x = np.full((20, 4), 7.5, dtype=np.float64)
    path = save_npz(tmp_path / "float.npz", x_train=x, y_train=np.arange(20) % 2)

    dataset = load_dataset(DatasetConfig(name="npz", path=path))

    assert dataset.x_train.dtype == np.float32
    assert np.all(dataset.x_train == 7.5)


def test_npz_own_test_and_validation(tmp_path):
    arrays = good_arrays(30)
    path = save_npz(
        tmp_path / "all.npz",
        **arrays,
        x_val=np.ones((4, 6)),
        y_val=np.array([[0], [1], [0], [1]]),
        x_test=np.zeros((6, 6)),
        y_test=np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0]),
    )

    dataset = load_dataset(DatasetConfig(name="npz", path=path))

    assert len(dataset.x_train) == 30
    assert np.array_equal(dataset.y_val, [0, 1, 0, 1])
    assert np.all(dataset.x_test == 0.0)
    assert dataset.y_test.dtype == np.int64
    assert dataset.num_classes == 3


def test_npz_train_size_with_own_validation(tmp_path):
    path = save_npz(tmp_path / "val.npz", **good_arrays(40), x_val=np.ones((4, 6)), y_val=np.array([0, 1, 0, 1]))

    dataset = load_dataset(DatasetConfig(name="npz", path=path, train_size=10))

    assert len(dataset.x_train) == 10
    assert len(dataset.x_val) == 4


def npz_not_zip(path: Path) -> None:
    path.write_bytes(b"this is plain text, not an npz archive")


def npz_truncated(path: Path) -> None:
    np.savez(path, **good_arrays())
    path.write_bytes(path.read_bytes()[:100])


def npz_single_npy(path: Path) -> None:
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))


def npz_with(**changes: np.ndarray | None):
    def write(path: Path) -> None:
        arrays = {**good_arrays(), **changes}
        np.savez(path, **{key: value for key, value in arrays.items() if value is not None})

    return write


NPZ_CASES = [
    ("not_zip", npz_not_zip, "not an npz file"),
    ("truncated", npz_truncated, "cannot be read as an npz file"),
    ("single_npy", npz_single_npy, "is a single .npy array"),
    ("no_x_train", npz_with(x_train=None), "the array x_train is missing"),
    ("no_y_train", npz_with(y_train=None), "the array y_train is missing"),
    ("object_array", npz_with(x_train=np.array([[1, "a"]] * 20, dtype=object)), "contains Python objects"),
    ("length_mismatch", npz_with(y_train=np.arange(19) % 2), "x_train has 20 samples but y_train has 19"),
    ("zero_features", npz_with(x_train=np.zeros((20, 0))), "with no features"),
    ("empty_validation", npz_with(x_val=np.zeros((0, 2)), y_val=np.zeros(0, np.int64)), "x_val is empty"),
    ("string_features", npz_with(x_train=np.array([["a", "b"]] * 20)), "non-numeric dtype <U1"),
    ("complex_features", npz_with(x_train=np.ones((20, 2), np.complex64)), "non-numeric dtype complex64"),
    ("nan_features", npz_with(x_train=np.where(np.eye(20, 6) > 0, np.nan, 0.0)), "x_train contains 6 NaN or infinite"),
    ("inf_features", npz_with(x_train=np.full((20, 6), np.inf)), "NaN or infinite"),
    ("fraction_labels", npz_with(y_train=np.linspace(0, 1, 20)), "non-integer labels"),
    ("negative_labels", npz_with(y_train=np.arange(20) - 1), "negative label -1"),
    ("nan_labels", npz_with(y_train=np.full(20, np.nan)), "y_train contains 20 NaN"),
    ("one_hot_labels", npz_with(y_train=np.eye(20, 2)), "y.argmax(axis=1)"),
    ("rank_one_x", npz_with(x_train=np.arange(20.0)), "the array x_train has shape (20,)"),
    ("rank_five_x", npz_with(x_train=np.zeros((20, 2, 2, 2, 2))), "(samples, height, width, channels)"),
    ("test_shape", npz_with(x_test=np.zeros((5, 7)), y_test=np.zeros(5, int)), "x_test has samples of shape (7,)"),
    ("val_shape", npz_with(x_val=np.zeros((5, 2, 3)), y_val=np.zeros(5, int)), "x_val has samples of shape (2, 3, 1)"),
    ("x_test_alone", npz_with(x_test=np.zeros((5, 6))), "x_test is present but y_test is missing"),
    ("y_val_alone", npz_with(y_val=np.zeros(5, int)), "y_val is present but x_val is missing"),
    ("test_lengths", npz_with(x_test=np.zeros((5, 6)), y_test=np.zeros(4, int)), "x_test has 5 samples but y_test has 4"),
    ("too_few", npz_with(x_train=np.zeros((9, 6)), y_train=np.arange(9) % 2), "x_train has 9 samples, too few"),
    ("one_class", npz_with(y_train=np.zeros(20, int)), "only the class 0"),
]


@pytest.mark.parametrize(("case", "write", "fragment"), NPZ_CASES, ids=[case[0] for case in NPZ_CASES])
def test_npz_invalid_file(tmp_path, case, write, fragment):
    path = tmp_path / f"{case}.npz"
    write(path)

    with pytest.raises(DataError) as caught:
        load_dataset(DatasetConfig(name="npz", path=path))

    message = str(caught.value)
    assert fragment in message
    assert str(path) in message
    assert "\n" not in message
    # NumPy's hint for pickled files is no fix for a file that is not an array.
    assert "allow_pickle" not in message


def test_npz_extra_arrays_logged(tmp_path, caplog):
    path = save_npz(tmp_path / "extra.npz", **good_arrays(), notes=np.zeros(3))

    with caplog.at_level(logging.WARNING, logger="tunescope.core.data"):
        load_dataset(DatasetConfig(name="npz", path=path))

    assert "ignoring arrays notes" in caplog.text


# -- image folders -------------------------------------------------------------


def write_images(folder: Path, counts: dict[str, int], mode: str = "L", suffix: str = ".png", size=(12, 10)) -> None:
    from PIL import Image

    for index, (class_name, count) in enumerate(counts.items()):
        (folder / class_name).mkdir(parents=True, exist_ok=True)
        for number in range(count):
            colour = 40 * index + number if mode == "L" else (40 * index, number, 200)
            Image.new(mode, size, colour).save(folder / class_name / f"{number}{suffix}")


def test_images_greyscale_folder(tmp_path):
    write_images(tmp_path / "shapes", {"circle": 8, "square": 8})

    dataset = load_dataset(DatasetConfig(name="images", path=tmp_path / "shapes", image_size=(16, 20)))

    assert dataset.input_shape == (16, 20, 1)
    assert dataset.num_classes == 2
    assert dataset.name == "shapes"
    assert len(dataset.x_train) + len(dataset.x_val) + len(dataset.x_test) == 16
    assert dataset.x_train.dtype == np.float32
    assert dataset.x_train.max() <= 1.0


def test_images_colour_default_size(tmp_path):
    write_images(tmp_path / "photos", {"a": 5, "b": 5, "c": 5}, mode="RGB", suffix=".jpg")

    dataset = load_dataset(DatasetConfig(name="images", path=tmp_path / "photos"))

    assert dataset.input_shape == (64, 64, 3)
    assert dataset.num_classes == 3


def test_images_labels_follow_sorted_folders(tmp_path):
    write_images(tmp_path / "pics", {"b_dark": 6, "a_light": 6})

    dataset = load_dataset(DatasetConfig(name="images", path=tmp_path / "pics", test_split=0.3))

    # Folder a_light sorts first, so it gets label 0, and write_images filled it with values 40..45.
    pixels = dataset.x_train[dataset.y_train == 0] * 255.0
    assert pixels.min() >= 39.5
    assert pixels.max() <= 45.5


def test_images_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()

    with pytest.raises(DataError, match="contains no class subfolders"):
        load_dataset(DatasetConfig(name="images", path=tmp_path / "empty"))


def test_images_single_class(tmp_path):
    write_images(tmp_path / "one", {"only": 12})

    with pytest.raises(DataError, match="only the class folder 'only'"):
        load_dataset(DatasetConfig(name="images", path=tmp_path / "one"))


def test_images_class_without_images(tmp_path):
    write_images(tmp_path / "gap", {"full": 12})
    (tmp_path / "gap" / "hollow").mkdir()
    (tmp_path / "gap" / "hollow" / "readme.txt").write_text("no images here")

    with pytest.raises(DataError, match="hollow: contains no images"):
        load_dataset(DatasetConfig(name="images", path=tmp_path / "gap"))


def test_images_unreadable_file(tmp_path):
    write_images(tmp_path / "broken", {"a": 6, "b": 6})
    bad = tmp_path / "broken" / "b" / "bad.png"
    bad.write_bytes(b"\x89PNG not really an image")

    with pytest.raises(DataError) as caught:
        load_dataset(DatasetConfig(name="images", path=tmp_path / "broken"))

    assert str(bad) in str(caught.value)
    assert "cannot be read as an image" in str(caught.value)


def test_images_too_few(tmp_path):
    write_images(tmp_path / "tiny", {"a": 2, "b": 2})

    with pytest.raises(DataError, match="contains 4 images, too few"):
        load_dataset(DatasetConfig(name="images", path=tmp_path / "tiny"))


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="unknown data set 'svhn'"):
        load_dataset(DatasetConfig(name="svhn"))


# -- input pipelines -----------------------------------------------------------


def numbered_dataset(train: int = 10, val: int = 5) -> Dataset:
    """A data set whose first feature is the sample's number, so batches can be traced back."""
    x = np.arange(train + val, dtype=np.float32).reshape(-1, 1)
    y = np.arange(train + val) % 2
    return Dataset("numbers", x[:train], y[:train], x[train:], y[train:], x[:0], y[:0], num_classes=2)


def epoch_of(pipeline) -> list[list[int]]:
    return [[int(value) for value in batch[0].numpy()[:, 0]] for batch in pipeline]


def test_pipelines_cover_every_sample_per_epoch():
    training, _ = InputPipelines(numbered_dataset()).fit_data(batch_size=4)

    batches = epoch_of(training)

    assert [len(batch) for batch in batches] == [4, 4, 2]
    assert sorted(sum(batches, [])) == list(range(10))


def test_pipelines_reshuffle_each_epoch():
    training, _ = InputPipelines(numbered_dataset(train=64)).fit_data(batch_size=64)

    first, second = epoch_of(training), epoch_of(training)

    assert sorted(first[0]) == sorted(second[0])
    assert first != second


def test_pipelines_keep_labels_with_samples():
    training, _ = InputPipelines(numbered_dataset()).fit_data(batch_size=3)

    for x, y in training:
        assert list(y.numpy()) == [int(value) % 2 for value in x.numpy()[:, 0]]


def test_pipelines_validation_in_order():
    _, validation = InputPipelines(numbered_dataset()).fit_data(batch_size=2)

    assert epoch_of(validation) == [[10, 11], [12, 13], [14]]


def test_pipelines_reused_per_batch_size():
    pipelines = InputPipelines(numbered_dataset())

    assert pipelines.fit_data(4) is pipelines.fit_data(4)
    assert pipelines.fit_data(4) is not pipelines.fit_data(2)
