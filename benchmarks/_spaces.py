"""The search spaces the benchmarks share, as `[[space]]` tables of an experiment file, by model family."""

SPACES = {
    "dnn": """
        [[space]]
        name = "num_layers"
        type = "int"
        min = 1
        max = 4
        [[space]]
        name = "nodes_dense"
        type = "int"
        min = 16
        max = 128
        step = 16
        [[space]]
        name = "learning_rate"
        type = "log"
        min = 1e-4
        max = 1e-2
    """,
    "cnn": """
        [[space]]
        name = "conv_blocks"
        type = "int"
        min = 1
        max = 3
        [[space]]
        name = "filters"
        type = "int"
        min = 8
        max = 32
        step = 8
        [[space]]
        name = "learning_rate"
        type = "log"
        min = 1e-4
        max = 1e-2
    """,
}
