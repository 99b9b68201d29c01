"""Data sets: load one by name and cut it into train, validation and test.

`load_dataset` is the one entry point. It returns a `Dataset` of float32
inputs and int64 class labels, the same for every source:

- `digits`: scikit-learn's 8x8 digits, which ship with scikit-learn, so the
  default experiment needs no download.
- `mnist`, `fashion_mnist`, `cifar10`, `cifar100`: the real
  `keras.datasets` loaders, which read the Keras cache (``$KERAS_HOME`` or
  ``~/.keras``) and download a missing file.
- `npz`: a NumPy ``.npz`` file with ``x_train`` and ``y_train`` and, optionally,
  test and validation arrays.
- `images`: a folder with one subfolder of png/jpg images per class.

Every split is stratified by class where the class counts allow it and seeded,
so the same seed always gives the same split. `InputPipelines` serves a
loaded data set to the engine's fits as prefetching `tf.data` pipelines.
scikit-learn, Pillow, Keras and TensorFlow are imported inside the functions
that use them, so importing this module stays fast.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
import urllib.error
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import DatasetConfig
from .errors import DataError

logger = logging.getLogger(__name__)

# The minimum number of samples a data set needs before it is cut into
# train, validation and test splits.
MIN_SAMPLES = 10

DEFAULT_IMAGE_SIZE = (64, 64)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass
class Dataset:
    """A labelled data set cut into train, validation and test splits.

    Inputs are float32, images shaped (N, H, W, C) and scaled to [0, 1], flat
    data shaped (N, D). Labels are int64 class indices in 0..num_classes-1.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input sample, without the batch axis."""
        return tuple(int(size) for size in self.x_train.shape[1:])

    def describe(self) -> str:
        """Summarise the data set in one line, e.g. for a log or a status bar."""
        shape = self.input_shape
        features = "x".join(str(size) for size in shape) if len(shape) > 1 else f"{shape[0]} features"
        return (
            f"{self.name}: {len(self.x_train)} train, {len(self.x_val)} val, {len(self.x_test)} test, "
            f"{features}, {self.num_classes} classes"
        )


class InputPipelines:
    """Prefetching `tf.data` pipelines over a data set's training and validation splits.

    Keras builds a new input pipeline from NumPy arrays at the start of every
    `model.fit`. A search fits one model per trial on the same arrays, so the
    pipelines are built once per batch size and reused by every trial. The
    training pipeline shuffles the sample indices each epoch and gathers
    each batch, as Keras' own array pipeline does, so the shuffle buffer
    contains indices, not samples. Training and validation arrays are copied
    into tensors once, when the first pipeline is built.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._tensors: tuple[Any, Any] | None = None
        self._pipelines: dict[int, tuple[Any, Any]] = {}

    def fit_data(self, batch_size: int) -> tuple[Any, Any]:
        """Return the (training, validation) pipelines batched at `batch_size`."""
        if batch_size not in self._pipelines:
            self._pipelines[batch_size] = self._build(batch_size)
        return self._pipelines[batch_size]

    def _build(self, batch_size: int) -> tuple[Any, Any]:
        import tensorflow as tf

        if self._tensors is None:
            self._tensors = (tf.constant(self.dataset.x_train), tf.constant(self.dataset.y_train))
        x, y = self._tensors
        count = len(self.dataset.x_train)

        def gather(indices: Any) -> tuple[Any, Any]:
            return tf.gather(x, indices), tf.gather(y, indices)

        training = (
            tf.data.Dataset.range(count)
            .shuffle(count, reshuffle_each_iteration=True)
            .batch(batch_size)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
        )
        validation = (
            tf.data.Dataset.from_tensor_slices((self.dataset.x_val, self.dataset.y_val))
            .batch(batch_size)
            .cache()
            .prefetch(tf.data.AUTOTUNE)
        )
        return training, validation


def load_dataset(config: DatasetConfig, seed: int = 0) -> Dataset:
    """Load the data set that `config` names and split it with `seed`.

    A source without its own test split (digits, npz without test arrays, image
    folders) gives `config.test_split` of its samples to the test set. The
    validation set is cut from the training samples unless an npz file brings
    its own. `config.train_size` sets the size of the training split when there
    are enough samples, and the validation split keeps its `validation_split`
    share next to it. With an npz file's own validation arrays, train_size caps
    the training split only. `config.test_size` caps the test split. Raises
    `DataError` for a missing, unreadable or malformed data set.
    """
    if config.name == "digits":
        x, y = _load_digits()
        arrays = _Arrays(x_pool=x, y_pool=y)
        name, source = "digits", "scikit-learn (bundled)"
    elif config.name in KERAS_DATASETS:
        arrays = _load_keras_dataset(config.name)
        name, source = config.name, str(keras_cache_dir() / KERAS_DATASETS[config.name].subdir)
    elif config.name == "npz":
        path = _require_path(config)
        arrays = _load_npz(path)
        name, source = path.name, str(path)
    elif config.name == "images":
        path = _require_path(config)
        arrays = _load_image_folder(path, config.image_size or DEFAULT_IMAGE_SIZE)
        name, source = path.name, str(path)
    else:
        known = ", ".join(["digits", *KERAS_DATASETS, "npz", "images"])
        raise DataError(f"unknown data set {config.name!r}; use one of {known}")

    dataset = _split(arrays, name, config, seed)
    logger.info("Loaded %s from %s", dataset.describe(), source)
    return dataset


def _require_path(config: DatasetConfig) -> Path:
    if config.path is None:
        raise DataError(f"the {config.name!r} data set needs a path; set path in the [dataset] table")
    return Path(config.path)


# -- splitting -----------------------------------------------------------------


@dataclass
class _Arrays:
    """Raw arrays from one source, before splitting and scaling.

    `x_pool`/`y_pool` are the training samples (validation is cut from them
    unless `x_val` is given). The test arrays are None when the source has no
    test split of its own.
    """

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


def _split(arrays: _Arrays, name: str, config: DatasetConfig, seed: int) -> Dataset:
    x_pool, y_pool = arrays.x_pool, arrays.y_pool

    if arrays.x_test is None:
        keep, cut = _cut(y_pool, config.test_split, seed)
        x_test, y_test = x_pool[cut], y_pool[cut]
        x_pool, y_pool = x_pool[keep], y_pool[keep]
    else:
        x_test, y_test = arrays.x_test, arrays.y_test
    if config.test_size is not None:
        chosen = _subset(y_test, config.test_size, seed, "test")
        x_test, y_test = x_test[chosen], y_test[chosen]

    if arrays.x_val is not None:
        x_val, y_val = arrays.x_val, arrays.y_val
        if config.train_size is not None:
            chosen = _subset(y_pool, config.train_size, seed, "train")
            x_pool, y_pool = x_pool[chosen], y_pool[chosen]
        x_train, y_train = x_pool, y_pool
    else:
        train, val = _train_validation(y_pool, config, seed)
        x_train, y_train = x_pool[train], y_pool[train]
        x_val, y_val = x_pool[val], y_pool[val]

    labels = [y_train, y_val, y_test]
    num_classes = int(max(int(y.max()) for y in labels if len(y))) + 1
    return Dataset(
        name=name,
        x_train=_to_float(x_train),
        y_train=y_train.astype(np.int64),
        x_val=_to_float(x_val),
        y_val=y_val.astype(np.int64),
        x_test=_to_float(x_test),
        y_test=y_test.astype(np.int64),
        num_classes=num_classes,
    )


def _train_validation(labels: np.ndarray, config: DatasetConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and validation samples within `labels`."""
    share = config.validation_split
    if config.train_size is not None:
        validation_count = max(1, round(config.train_size * share / (1.0 - share)))
        if config.train_size + validation_count <= len(labels):
            return _cut(labels, validation_count, seed, train_count=config.train_size)
        logger.warning(
            "train_size %d plus its validation share needs %d samples but only %d are available; using all of them",
            config.train_size,
            config.train_size + validation_count,
            len(labels),
        )
    return _cut(labels, share, seed)


def _cut(
    labels: np.ndarray, size: float | int, seed: int, train_count: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (kept, cut) of a seeded split that puts `size` samples in the cut.

    `size` is a fraction or a count, as in `sklearn.model_selection.train_test_split`.
    The split is stratified by label unless a class is too small for that, in
    which case it falls back to a plain shuffled split.
    """
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(labels))
    try:
        kept, cut = train_test_split(
            positions, test_size=size, train_size=train_count, random_state=seed, stratify=labels
        )
    except ValueError as error:
        # scikit-learn raises ValueError when a class has a single sample or
        # the cut is smaller than the number of classes.
        logger.warning("cannot stratify a split of %d samples (%s); splitting without stratification", len(labels), error)
        kept, cut = train_test_split(positions, test_size=size, train_size=train_count, random_state=seed)
    return np.sort(kept), np.sort(cut)


def _subset(labels: np.ndarray, count: int, seed: int, split: str) -> np.ndarray:
    """Positions of a seeded subset of `count` samples, stratified where the classes allow it."""
    if count >= len(labels):
        logger.info("%s_size %d is not below the %d available samples; keeping all of them", split, count, len(labels))
        return np.arange(len(labels))
    _, chosen = _cut(labels, count, seed)
    return chosen


def _to_float(x: np.ndarray) -> np.ndarray:
    """Convert to float32, scaling 8-bit images from 0..255 to [0, 1]."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    return x.astype(np.float32)


def _as_images(x: np.ndarray) -> np.ndarray:
    """Add a channel axis to (N, H, W) greyscale images."""
    return x[..., np.newaxis] if x.ndim == 3 else x


# -- digits ------------------------------------------------------------------


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Pixel values are counts from 0 to 16 on an 8x8 grid.
    x = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    return x, digits.target.astype(np.int64)


# -- keras.datasets ------------------------------------------------------------


@dataclass(frozen=True)
class _KerasSource:
    """Cache location and download URLs of one `keras.datasets` loader (Keras 3.15).

    `files` are the names inside ``<Keras home>/<subdir>``, and `origins` the
    URL each one is downloaded from. The CIFAR loaders save the downloaded
    tar.gz under the name ``<dirname>_archive`` and extract it next to it.
    """

    subdir: str
    files: tuple[str, ...]
    origins: tuple[str, ...]


_TF_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)

KERAS_DATASETS: dict[str, _KerasSource] = {
    "mnist": _KerasSource("datasets", ("mnist.npz",), (_TF_DATASETS + "mnist.npz",)),
    "fashion_mnist": _KerasSource(
        os.path.join("datasets", "fashion-mnist"),
        _FASHION_FILES,
        tuple(_TF_DATASETS + name for name in _FASHION_FILES),
    ),
    "cifar10": _KerasSource(
        "datasets",
        ("cifar-10-batches-py-target_archive",),
        ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    ),
    "cifar100": _KerasSource(
        "datasets",
        ("cifar-100-python-target_archive",),
        ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
    ),
}


def keras_cache_dir() -> Path:
    """Return the directory that `keras.utils.get_file` caches downloads in.

    Keras uses ``$KERAS_HOME``, else ``~/.keras``, and falls back to
    ``/tmp/.keras`` when that directory is not writable.

    NOTE: Keras 3.15 reads KERAS_HOME once, when keras is imported, while this
    function reads it on each call, so the two disagree if the variable
    changes after keras is imported.
    """
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = os.path.expanduser("~")
        if not os.access(base, os.W_OK):
            base = "/tmp"
        home = os.path.join(base, ".keras")
    home = os.path.expanduser(home)
    if not os.access(home, os.W_OK):
        home = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return Path(home)


def _load_keras_dataset(name: str) -> _Arrays:
    """Run the real `keras.datasets.<name>.load_data()` and turn its failures into DataError."""
    import keras

    source = KERAS_DATASETS[name]
    directory = keras_cache_dir() / source.subdir
    present_before = {file: (directory / file).exists() for file in source.files}
    loader = getattr(keras.datasets, name)

    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except MemoryError:
        raise
    except Exception as error:
        # keras.utils.get_file raises a bare Exception when a download fails,
        # so the failure is recognised by its message.
        raise _keras_load_error(name, source, directory, present_before, error) from error

    logger.debug("keras.datasets.%s read its files from %s", name, directory)
    return _Arrays(
        x_pool=_as_images(x_train),
        y_pool=np.asarray(y_train).reshape(-1).astype(np.int64),
        x_test=_as_images(x_test),
        y_test=np.asarray(y_test).reshape(-1).astype(np.int64),
    )


def _keras_load_error(
    name: str, source: _KerasSource, directory: Path, present_before: dict[str, bool], error: Exception
) -> DataError:
    message = str(error)
    failed_url = re.match(r"URL fetch failure on (\S+): ", message)
    if failed_url or isinstance(error, (ConnectionError, TimeoutError, socket.gaierror, urllib.error.URLError)):
        url = failed_url.group(1) if failed_url else source.origins[0]
        file, origin = next(
            ((f, o) for f, o in zip(source.files, source.origins) if o == url),
            (source.files[0], source.origins[0]),
        )
        if present_before[file]:
            # Keras re-downloads a cached file whose SHA-256 differs from the
            # official one, and deletes it when that download fails.
            return DataError(
                f"{name}: the file {file} in {directory} does not match the official file and could not be "
                f"downloaded again (no network?); download it from {origin} and place it there as {file}"
            )
        return DataError(
            f"{name}: the file {file} is not in {directory} and could not be downloaded (no network?); "
            f"download it from {origin} and place it there as {file}"
        )
    if message.startswith("Incomplete or corrupted file detected"):
        return DataError(
            f"{name}: the downloaded file in {directory} does not match its published checksum; "
            f"run again to download it again, or place a copy from {source.origins[0]} there as {source.files[0]}"
        )
    return DataError(
        f"{name}: the cached files in {directory} cannot be read ({type(error).__name__}: {_one_line(message)}); "
        f"delete {', '.join(source.files)} there so that Keras downloads them again"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- npz files -----------------------------------------------------------------

_NPZ_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def _load_npz(path: Path) -> _Arrays:
    """Read and validate the arrays of an npz file, raising DataError for the first problem."""
    arrays = _read_npz(path)

    for split in ("train", "val", "test"):
        has_x, has_y = f"x_{split}" in arrays, f"y_{split}" in arrays
        if split == "train" and not (has_x and has_y):
            missing = "x_train" if not has_x else "y_train"
            raise DataError(
                f"{path}: the array {missing} is missing; save the file with "
                "np.savez(path, x_train=..., y_train=...), test and validation arrays optional"
            )
        if has_x != has_y:
            present, absent = (f"x_{split}", f"y_{split}") if has_x else (f"y_{split}", f"x_{split}")
            raise DataError(f"{path}: {present} is present but {absent} is missing; add {absent} or remove {present}")

    for key in _NPZ_ARRAYS:
        if key in arrays:
            arrays[key] = _check_inputs(path, key, arrays[key]) if key[0] == "x" else _check_labels(path, key, arrays[key])

    feature_shape = arrays["x_train"].shape[1:]
    for split in ("train", "val", "test"):
        if f"x_{split}" not in arrays:
            continue
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y):
            raise DataError(
                f"{path}: x_{split} has {len(x)} samples but y_{split} has {len(y)}; give each sample exactly one label"
            )
        if len(x) == 0:
            raise DataError(f"{path}: x_{split} is empty; remove x_{split} and y_{split}, or give them samples")
        if x.shape[1:] != feature_shape:
            raise DataError(
                f"{path}: x_{split} has samples of shape {x.shape[1:]} but x_train has {feature_shape}; "
                "save every split with the same sample shape"
            )

    if len(arrays["x_train"]) < MIN_SAMPLES:
        raise DataError(
            f"{path}: x_train has {len(arrays['x_train'])} samples, too few to split; provide at least {MIN_SAMPLES}"
        )
    classes = np.unique(np.concatenate([arrays[key] for key in ("y_train", "y_val", "y_test") if key in arrays]))
    if len(classes) < 2:
        raise DataError(f"{path}: the labels contain only the class {classes[0]}; a classifier needs at least 2 classes")

    return _Arrays(
        x_pool=arrays["x_train"],
        y_pool=arrays["y_train"],
        x_test=arrays.get("x_test"),
        y_test=arrays.get("y_test"),
        x_val=arrays.get("x_val"),
        y_val=arrays.get("y_val"),
    )


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read the known arrays of an npz file without allowing pickled objects."""
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as error:
        # NumPy takes a file that is neither .npy nor a zip archive for a
        # pickle, which allow_pickle=False rejects with a ValueError. Its
        # message suggests allow_pickle=True, which is no fix for such a file.
        raise DataError(
            f"{path}: not an npz file (neither a zip archive nor a .npy array); "
            "save the arrays with np.savez(path, x_train=..., y_train=...)"
        ) from error
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(
            f"{path}: cannot be read as an npz file ({type(error).__name__}: {_one_line(str(error))}); "
            "it may be truncated or corrupt, so save it again with np.savez"
        ) from error

    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: is a single .npy array, not an npz archive; save it with np.savez(path, x_train=..., y_train=...)")

    arrays: dict[str, np.ndarray] = {}
    with archive:
        ignored = [key for key in archive.files if key not in _NPZ_ARRAYS]
        if ignored:
            logger.warning("%s: ignoring arrays %s; tunescope reads only %s", path, ", ".join(ignored), ", ".join(_NPZ_ARRAYS))
        for key in _NPZ_ARRAYS:
            if key not in archive.files:
                continue
            try:
                arrays[key] = archive[key]
            except ValueError as error:
                if "allow_pickle" in str(error):
                    raise DataError(
                        f"{path}: the array {key} contains Python objects (pickled), which tunescope does not load "
                        "because unpickling can run code; save it as a numeric array, e.g. np.asarray(values, dtype=np.float32)"
                    ) from error
                raise _corrupt_npz_member(path, key, error) from error
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
                raise _corrupt_npz_member(path, key, error) from error
    return arrays


def _corrupt_npz_member(path: Path, key: str, error: Exception) -> DataError:
    return DataError(
        f"{path}: the array {key} cannot be read ({type(error).__name__}: {_one_line(str(error))}); "
        "the file may be truncated or corrupt, so save it again with np.savez"
    )


def _check_numeric(path: Path, key: str, values: np.ndarray) -> None:
    if values.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: the array {key} has the non-numeric dtype {values.dtype}; save it as numbers "
            "(e.g. float32 features, int64 labels)"
        )
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise DataError(f"{path}: the array {key} contains {bad} NaN or infinite values; replace or drop those samples")


def _check_inputs(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    """Validate an input array and give greyscale images a channel axis."""
    _check_numeric(path, key, x)
    if x.ndim not in (2, 3, 4):
        raise DataError(
            f"{path}: the array {key} has shape {x.shape}; use (samples, features), "
            "(samples, height, width) or (samples, height, width, channels)"
        )
    if 0 in x.shape[1:]:
        raise DataError(f"{path}: the array {key} has shape {x.shape}, with no features; give each sample at least one value")
    return _as_images(x)


def _check_labels(path: Path, key: str, y: np.ndarray) -> np.ndarray:
    """Validate a label array and return it as int64 class indices of shape (N,)."""
    _check_numeric(path, key, y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise DataError(
            f"{path}: the array {key} has shape {y.shape}; store one class index per sample, shape (samples,), "
            "e.g. y.argmax(axis=1) for one-hot labels"
        )
    if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
        raise DataError(f"{path}: the array {key} contains non-integer labels; store class indices 0, 1, 2, ...")
    if len(y) and y.min() < 0:
        raise DataError(f"{path}: the array {key} contains the negative label {y.min()}; store class indices 0, 1, 2, ...")
    return y.astype(np.int64)


# -- image folders -------------------------------------------------------------


def _load_image_folder(folder: Path, size: tuple[int, int]) -> _Arrays:
    """Read a folder of class subfolders into uint8 images of `size` (height, width)."""
    from PIL import Image

    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; point dataset.path at a folder with one subfolder per class")
    classes = sorted(entry.name for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not classes:
        raise DataError(f"{folder}: contains no class subfolders; put the images of each class in a subfolder named after it")
    if len(classes) < 2:
        raise DataError(f"{folder}: has only the class folder {classes[0]!r}; add a subfolder for each of at least 2 classes")

    images: list[np.ndarray] = []
    labels: list[int] = []
    greyscale = True
    height, width = size
    for label, class_name in enumerate(classes):
        files = sorted(
            p for p in (folder / class_name).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not files:
            raise DataError(
                f"{folder / class_name}: contains no images ({', '.join(IMAGE_EXTENSIONS)}); add some or remove the folder"
            )
        for file in files:
            try:
                with Image.open(file) as image:
                    image.load()
                    greyscale = greyscale and image.mode in ("1", "L", "LA", "I", "I;16", "F")
                    pixels = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
                raise DataError(
                    f"{file}: cannot be read as an image ({type(error).__name__}: {_one_line(str(error))}); "
                    "replace or remove it"
                ) from error
            images.append(np.asarray(pixels, dtype=np.uint8))
            labels.append(label)

    if len(images) < MIN_SAMPLES:
        raise DataError(f"{folder}: contains {len(images)} images, too few to split; provide at least {MIN_SAMPLES}")
    x = np.stack(images)
    if greyscale:
        x = x[..., :1]
    logger.debug("read %d images of %d classes from %s", len(x), len(classes), folder)
    return _Arrays(x_pool=x, y_pool=np.asarray(labels, dtype=np.int64))
