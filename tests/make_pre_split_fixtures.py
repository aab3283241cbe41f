"""Write the checkpoints of tests/fixtures/pre_split/ (issue 17: proof that splitting modeling_mcn_cl.py changed
no behaviour).

Run once with the code from before the split (commit dce178d):

    OMP_NUM_THREADS=1 .venv/bin/python tests/make_pre_split_fixtures.py

For each tiny config of `CONFIGS` it writes `<name>/config.json` and `<name>/model.safetensors` (the weights,
seeded and perturbed away from their initial values) and `<name>/expected.safetensors` (the logits of
`MCNCLForEmotionRecognition.forward` on the fixed inputs, and for causal models the logits of streaming the
dialogues one utterance at a time); the fixed inputs go to `inputs.safetensors`. tests/test_pre_split.py loads
them with the current code and asserts strict loading and the same logits. Re-running it with later code
overwrites the reference: do so only on purpose, after a deliberate behaviour change.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "pre_split")

BATCH, NUM_UTT, NUM_FRAMES, NUM_TOKENS = 3, 5, 4, 6
TEXT_SIZE, AUDIO_SIZE, VISUAL_SIZE = 12, 10, 14

TINY_TEXT = {
    "model_type": "bert",
    "vocab_size": 30,
    "hidden_size": 8,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 8,
    "max_position_embeddings": 16,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}

BASE = dict(
    text_config=TINY_TEXT,
    use_text_encoder=False,
    text_feature_size=TEXT_SIZE,
    audio_feature_size=AUDIO_SIZE,
    visual_backbone=None,
    visual_feature_size=VISUAL_SIZE,
    hidden_size=8,
    num_attention_heads=2,
    num_mcn_layers=2,
    intermediate_size=16,
    projection_size=4,
    classifier_hidden_size=8,
    psa_kernel_sizes=(3, 5, 7, 9),
    max_speakers=4,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    num_labels=3,
)

# name -> (config overrides, text input: "features" or "tokens")
CONFIGS = {
    **{
        f"{encoder}_{'causal' if causal else 'bidirectional'}": (
            dict(context_encoder=encoder, causal=causal, num_context_layers=2),
            "features",
        )
        for encoder in ("dialoguernn", "bigru", "transformer", "none")
        for causal in (False, True)
    },
    # the text tower on token ids (mean pooling), MCN keys from the previous layer
    "dialoguernn_causal_tokens_previous_layer": (
        dict(
            use_text_encoder=True,
            text_feature_size=None,
            text_pooling="mean",
            causal=True,
            kv_source="previous_layer",
        ),
        "tokens",
    ),
    # no MCN layers, no PSA
    "none_no_mcn_no_psa": (dict(context_encoder="none", use_mcn=False, use_psa=False), "features"),
}


def make_inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    utterance_mask = torch.ones(BATCH, NUM_UTT, dtype=torch.long)
    utterance_mask[1, 3:] = 0  # dialogue 1 has 3 utterances
    modality_mask = torch.ones(BATCH, NUM_UTT, 3, dtype=torch.long)
    modality_mask[0, 1, 2] = 0  # no face
    modality_mask[2, 2, 0] = 0  # no text
    modality_mask[2, 4, 1] = 0  # no audio
    frame_mask = torch.ones(BATCH, NUM_UTT, NUM_FRAMES, dtype=torch.long)
    frame_mask[:, :, 3] = 0
    frame_mask[0, 0, 2:] = 0
    attention_mask = torch.ones(BATCH, NUM_UTT, NUM_TOKENS, dtype=torch.long)
    attention_mask[:, :, 4:] = 0
    return {
        "text_features": torch.randn(BATCH, NUM_UTT, TEXT_SIZE, generator=g),
        "input_ids": torch.randint(1, TINY_TEXT["vocab_size"], (BATCH, NUM_UTT, NUM_TOKENS), generator=g),
        "attention_mask": attention_mask,
        "audio_features": torch.randn(BATCH, NUM_UTT, AUDIO_SIZE, generator=g) * 3,
        "visual_features": torch.randn(BATCH, NUM_UTT, NUM_FRAMES, VISUAL_SIZE, generator=g),
        "frame_mask": frame_mask,
        "speaker_ids": torch.tensor([[0, 1, 0, 2, 1], [1, 0, 1, 0, 0], [3, 3, 0, 1, 3]]),
        "utterance_mask": utterance_mask,
        "modality_mask": modality_mask,
    }


def model_inputs(inputs: dict[str, torch.Tensor], text: str) -> dict[str, torch.Tensor]:
    drop = ("input_ids", "attention_mask") if text == "features" else ("text_features",)
    return {k: v for k, v in inputs.items() if k not in drop}


@torch.no_grad()
def stream_logits(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The logits of streaming every dialogue one utterance at a time, [B, N, K]."""
    stream = model.init_stream(batch_size=BATCH)
    return torch.cat(
        [stream.step(**{k: v[:, t : t + 1] for k, v in inputs.items()}).logits for t in range(NUM_UTT)], 1
    )


def main() -> None:
    sys.path.insert(0, os.path.join(HERE, "..", "src"))
    from mcn_cl import MCNCLConfig, MCNCLForEmotionRecognition

    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    inputs = make_inputs()
    save_file(inputs, os.path.join(OUT, "inputs.safetensors"))
    for index, (name, (overrides, text)) in enumerate(CONFIGS.items()):
        torch.manual_seed(index)
        config = MCNCLConfig(**{**BASE, **overrides})
        model = MCNCLForEmotionRecognition(config).eval()
        generator = torch.Generator().manual_seed(100 + index)
        with torch.no_grad():  # away from the initial values (LayerNorms not the identity, nonzero biases)
            for parameter in model.parameters():
                parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.2)
        given = model_inputs(inputs, text)
        expected = {"logits": model(**given).logits.contiguous()}
        if config.causal:
            expected["stream_logits"] = stream_logits(model, given).contiguous()
        folder = os.path.join(OUT, name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        with tempfile.TemporaryDirectory() as tmp:  # keep only the weights and config, not the code copies
            model.save_pretrained(tmp)
            for file in ("config.json", "model.safetensors"):
                shutil.copy(os.path.join(tmp, file), folder)
        save_file(expected, os.path.join(folder, "expected.safetensors"))
        with open(os.path.join(folder, "inputs.json"), "w") as f:
            json.dump({"text": text}, f)
        print(name, {k: tuple(v.shape) for k, v in expected.items()})


if __name__ == "__main__":
    main()
