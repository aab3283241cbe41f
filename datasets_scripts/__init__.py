# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Dataset loaders: IEMOCAP and MELD raw releases, the community feature pickles (MCN-CL) and the MMSA corpora
CMU-MOSI / CH-SIMS (MCIHN), as `datasets.DatasetDict`.

`datasets` 4+ runs no loading scripts, so these are plain functions over ``Dataset.from_generator`` (cached on
disk, keyed on a fingerprint of the parsed content and the options; see ``_common.py``).

    >>> from mcn_cl.datasets_scripts import load_iemocap, load_meld, load_feature_pickle
    >>> ds = load_iemocap("IEMOCAP_full_release")              # train / validation / test, 6 classes
    >>> ds = load_meld("MELD.Raw")                             # clips probed with PyAV, bad ones masked
    >>> ds = load_meld(csv_dir="MELD.Raw", check_media=False)  # annotations only
    >>> ds = load_feature_pickle("IEMOCAP_features.pkl", dataset="iemocap")
"""

from ._common import DatasetFormatError, dialogue_features, label_names
from .feature_pickles import (
    RestrictedUnpickler,
    UnsafePickleError,
    feature_sizes,
    load_feature_pickle,
    safe_load_pickle,
)
from .iemocap import IEMOCAP_LABELS_4, IEMOCAP_LABELS_6, load_iemocap, parse_iemocap
from .meld import MELD_EMOTIONS, MELD_SENTIMENTS, load_meld, repair_text
from .mmsa import MMSA_DATASETS, load_mmsa_features, load_mmsa_raw, mmsa_feature_sizes
from .stats import data_stats

__all__ = [
    "DatasetFormatError",
    "IEMOCAP_LABELS_4",
    "IEMOCAP_LABELS_6",
    "MELD_EMOTIONS",
    "MELD_SENTIMENTS",
    "MMSA_DATASETS",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "data_stats",
    "dialogue_features",
    "feature_sizes",
    "label_names",
    "load_feature_pickle",
    "load_iemocap",
    "load_meld",
    "load_mmsa_features",
    "load_mmsa_raw",
    "mmsa_feature_sizes",
    "parse_iemocap",
    "repair_text",
    "safe_load_pickle",
]
