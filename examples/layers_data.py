"""Data for the layer examples: Fashion-MNIST from IDX files, or scikit-learn's bundled digits.

Fashion-MNIST is read from the four ``*-ubyte.gz`` IDX files (``--data DIR``; the files that
``keras.datasets.fashion_mnist`` downloads to ``~/.keras/datasets/fashion-mnist`` work too).
``--offline-digits`` uses the 8x8 digits that ship with scikit-learn, no download needed.
Features are reduced with PCA and standardised so that they suit angle encoding.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DEFAULT_DIR = Path.home() / ".keras" / "datasets" / "fashion-mnist"


def read_idx(path: Path) -> np.ndarray:
    """Read one (optionally gzipped) IDX file into an array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(
    data_dir: str | None, offline_digits: bool, n_features: int, n_classes: int, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``x_train, y_train, x_test, y_test`` (float32 features, int64 labels)."""
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if offline_digits:
        from sklearn.datasets import load_digits

        digits = load_digits(n_class=n_classes)
        x_train, x_test, y_train, y_test = train_test_split(
            digits.data, digits.target, test_size=0.3, random_state=0, stratify=digits.target
        )
    else:
        root = Path(data_dir) if data_dir else DEFAULT_DIR
        missing = [f for pair in FILES.values() for f in pair if not (root / f).exists()]
        if missing:
            raise SystemExit(
                f"Fashion-MNIST files {missing} not found in {root}; pass --data DIR with the IDX "
                "files, or --offline-digits to use scikit-learn's digits."
            )
        (x_train, y_train), (x_test, y_test) = (
            (read_idx(root / img).reshape(-1, 784) / 255.0, read_idx(root / lab))
            for img, lab in FILES.values()
        )
        keep_train, keep_test = y_train < n_classes, y_test < n_classes
        x_train, y_train = x_train[keep_train][:limit], y_train[keep_train][:limit]
        x_test, y_test = x_test[keep_test][: limit // 4], y_test[keep_test][: limit // 4]
    pca = PCA(n_features, random_state=0).fit(x_train)
    scaler = StandardScaler().fit(pca.transform(x_train))
    prep = lambda a: scaler.transform(pca.transform(a)).astype(np.float32)  # noqa: E731
    return prep(x_train), y_train.astype(np.int64), prep(x_test), y_test.astype(np.int64)
