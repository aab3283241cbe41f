# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""What the package's pipelines share: `ProcessorPipeline` (the base of `pipeline_mcn_cl.py` and
`pipeline_mcihn.py`) and the input constants both pipelines check against.

This file travels to the Hub with each pipeline file: the pipelines import it by a same-folder relative import,
and `Pipeline.save_pretrained` (`transformers.dynamic_module_utils.custom_object_save`) copies a pipeline's
relative imports next to it. It therefore imports only public libraries; the constants below are marked copies of
the processor's (`tests/test_copies.py` checks that they stay equal), because the processor files are not
importable from here in a Hub folder.
"""

from __future__ import annotations

from collections.abc import Sized

from torch.utils.data import DataLoader
from transformers import Pipeline
from transformers.pipelines.pt_utils import PipelineDataset, PipelineIterator

# Copied from mcn_cl.processing.inputs_mcn_cl.MODALITY_KEYS
MODALITY_KEYS = {"text": "text", "audio": "audio", "visual": "video"}
# Copied from mcn_cl.processing.inputs_mcn_cl.ON_ERROR
ON_ERROR = ("raise", "mask")
# Copied from mcn_cl.processing.inputs_mcn_cl.MEDIA_ALIASES
MEDIA_ALIASES = {"audio_path": "audio", "video_path": "video"}


def input_error(processor):
    """The exception class a pipeline raises for a structurally invalid input: the processor's
    `input_error_class` (`MCNCLInputError`, a `ValueError`; the class of the processor files saved with the weights
    under `trust_remote_code`). A processor without one (processor code saved before it existed) gets a plain
    `ValueError` with the same message."""
    error = getattr(processor, "input_error_class", None)
    if error is not None:
        return error

    def plain(reason: str, field=None, utterance=None, dialogue=None) -> ValueError:
        where = ([f"dialogue {dialogue}"] if dialogue is not None else []) + (
            [f"utterance {utterance}"] if utterance is not None else []
        )
        return ValueError(
            ", ".join(where) + (": " if where else "") + (f"{field}: " if field else "") + reason
        )

    return plain


class ProcessorPipeline(Pipeline):
    """What the package's pipelines share: one `ProcessorMixin` as the only preprocessing component (checked at
    construction, saved with the model), the model in evaluation mode, and a `DataLoader` whose `collate_fn` keeps
    the preprocessed items unpadded (each pipeline's `_forward` pads its batch with the processor).

    Subclasses set `processor_name` / `processor_method` (their processor class, and a method it must have) and
    `collate_fn`.
    """

    _load_processor = True
    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False
    _load_video_processor = False
    processor_name: str = ""
    processor_method: str = ""
    collate_fn = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.processor is None or not hasattr(self.processor, self.processor_method):
            raise ValueError(
                f"{type(self).__name__} needs the model's {self.processor_name}: pass processor=... (or a checkpoint "
                f"folder that holds processor_config.json), got {type(self.processor).__name__}"
            )
        # The processor is the pipeline's one preprocessing component and `save_pretrained` saves it whole; the base
        # class would also save its feature extractor / image processor on its own (a second, redundant config).
        self.feature_extractor = None
        self.image_processor = None
        self.model.eval()

    def save_pretrained(self, save_directory, **kwargs):
        """Save the model (with this file and `custom_pipelines` in its config) and the processor, so that
        `pipeline(task, model=save_directory, trust_remote_code=True)` loads them."""
        super().save_pretrained(save_directory, **kwargs)
        self.processor.save_pretrained(save_directory, **kwargs)

    def get_iterator(
        self, inputs, num_workers: int, batch_size: int, preprocess_params, forward_params, postprocess_params
    ):
        # As the base class, with `collate_fn`: the items are padded together in `_forward`.
        if isinstance(inputs, Sized):
            dataset = PipelineDataset(inputs, self.preprocess, preprocess_params)
        else:
            dataset = PipelineIterator(inputs, self.preprocess, preprocess_params)
        loader = DataLoader(
            dataset, num_workers=num_workers, batch_size=batch_size, collate_fn=type(self).collate_fn
        )
        model_iterator = PipelineIterator(loader, self.forward, forward_params, loader_batch_size=batch_size)
        return PipelineIterator(model_iterator, self.postprocess, postprocess_params)


__all__ = ["MEDIA_ALIASES", "MODALITY_KEYS", "ON_ERROR", "ProcessorPipeline", "input_error"]
