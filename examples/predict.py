# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Predict the emotion of every utterance of a conversation with a trained MCN-CL checkpoint (Python API).

    python examples/predict.py runs/demo                        # the demo corpus's test conversations
    python examples/predict.py runs/demo conversation.json      # a conversation in a JSON file

A conversation is a list of utterance dicts: "text", "speaker", "audio" / "video" (file paths or arrays), optional
"start" / "end" (seconds). The checkpoint folder (`examples/train.py --output_dir`, or a Hub id) holds the model,
the processor and the pipeline code, so the same `pipeline(...)` call works without the `mcn_cl` package.
"""

from __future__ import annotations

import os
import sys

from transformers import pipeline


def main(model: str, conversation_file: str | None = None) -> None:
    classifier = pipeline("multimodal-emotion-recognition", model=model, trust_remote_code=True)

    if conversation_file is not None:
        from mcn_cl.cli.readers import read_conversation_json  # media paths relative to the JSON file

        conversations = read_conversation_json(conversation_file)
    else:
        from mcn_cl.demo import load_demo_corpus

        # loader rows (dicts with "dialogue_id" and "utterances") are accepted as they are
        # examples/train.py writes the demo corpus next to its output folder
        corpus = os.path.join(os.path.dirname(os.path.abspath(model)), "demo_corpus")
        conversations = list(load_demo_corpus(corpus)["test"])

    # one call for every conversation, two per forward pass; "mask": a bad file only removes that modality
    results = classifier(conversations, batch_size=2, top_k=2, on_error="mask")
    for conversation, predictions in zip(conversations, results):
        print(f"conversation {conversation['dialogue_id']}")
        for utterance, p in zip(conversation["utterances"], predictions):
            label, score = p["label"], p["score"]
            runner_up = ", ".join(f"{name} {value:.2f}" for name, value in list(p["scores"].items())[1:])
            print(
                f"  {p['speaker']:>6}: {label:<8} {score:.2f} (then {runner_up})  {utterance.get('text') or ''}"
            )


if __name__ == "__main__":
    if not 2 <= len(sys.argv) <= 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
