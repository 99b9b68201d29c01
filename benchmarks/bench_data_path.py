"""Time `model.fit` on NumPy arrays against a prefetching `tf.data` pipeline.

Run from the repository root:

    .venv/bin/python benchmarks/bench_data_path.py
    .venv/bin/python benchmarks/bench_data_path.py --samples 40000 --shape 32 32 3 --repeats 3

tunescope passes the data set's NumPy arrays to `model.fit` for every trial,
so Keras builds its input pipeline from them at the start of each fit. This
script measures whether building a `tf.data.Dataset` once (shuffled, batched
and prefetched with `tf.data.AUTOTUNE`) would pay. For each input size it
times (wall and process CPU time), after one warm-up fit per variant,
`--repeats` fits of a fresh small dense model for `--epochs` epochs:

- numpy: `model.fit(x, y, batch_size=..., validation_data=(x_val, y_val))`;
- tf.data: the same data as `Dataset.from_tensor_slices(...).shuffle(...)
  .batch(...).prefetch(AUTOTUNE)`, built once outside the timed fits.

The data are random float32 values of `--shape` with 10 classes; the model
cost per sample is kept small on purpose, so that the input pipeline's share
is as large as in the smallest trials of a search.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from _machine import describe_machine

from tunescope.core.study import import_tensorflow


def build_model(keras, shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
    inputs = keras.Input(shape=shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(32, activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[1149, 40000], help="training samples per run (default: 1149 40000)")
    parser.add_argument("--shape", type=int, nargs="+", default=[8, 8, 1], help="shape of one sample (default: 8 8 1)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (default: 3)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per variant (default: 3)")
    args = parser.parse_args()

    tf = import_tensorflow()
    import keras

    for line in describe_machine():
        print(line)
    shape = tuple(args.shape)
    print(f"sample shape {shape}, {args.epochs} epochs, batch size {args.batch_size}, {args.repeats} timed fits per variant")

    rng = np.random.default_rng(0)
    for samples in args.samples:
        x = rng.random((samples, *shape), dtype=np.float32)
        y = rng.integers(0, 10, samples)
        x_val, y_val = x[: samples // 4], y[: samples // 4]

        def fit_numpy() -> None:
            build_model(keras, shape).fit(
                x, y, batch_size=args.batch_size, epochs=args.epochs, validation_data=(x_val, y_val), verbose=0
            )

        train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(samples, seed=0).batch(args.batch_size).prefetch(tf.data.AUTOTUNE)
        validation = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(args.batch_size).prefetch(tf.data.AUTOTUNE)

        def fit_dataset() -> None:
            build_model(keras, shape).fit(train, epochs=args.epochs, validation_data=validation, verbose=0)

        timings: dict[str, list[tuple[float, float]]] = {"numpy": [], "tf.data": []}
        for variant in (fit_numpy, fit_dataset):
            variant()
        for _ in range(args.repeats):
            for name, variant in (("numpy", fit_numpy), ("tf.data", fit_dataset)):
                keras.backend.clear_session(free_memory=False)
                started, cpu_started = time.perf_counter(), time.process_time()
                variant()
                timings[name].append((time.perf_counter() - started, time.process_time() - cpu_started))

        wall = {name: statistics.median(run[0] for run in runs) for name, runs in timings.items()}
        cpu = {name: statistics.median(run[1] for run in runs) for name, runs in timings.items()}
        print(
            f"{samples} samples: wall median numpy {wall['numpy']:.2f} s, tf.data {wall['tf.data']:.2f} s "
            f"({wall['tf.data'] / wall['numpy']:.3f}x); CPU median numpy {cpu['numpy']:.2f} s, "
            f"tf.data {cpu['tf.data']:.2f} s ({cpu['tf.data'] / cpu['numpy']:.3f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
