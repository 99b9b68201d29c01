"""Custom model functions that break the contract in the ways tests/test_bad_inputs.py expects."""

import keras


def build_nothing(values, input_shape, num_classes):
    return None


def build_uncompiled(values, input_shape, num_classes):
    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(num_classes)])
