"""Generated fixture trees in the exact IEMOCAP_full_release and MELD.Raw layouts, and feature pickles.

Media are real but tiny, written by `mcn_cl.demo.write_wav` / `write_mp4` (mpeg4 video, aac audio).
"""

from __future__ import annotations

import csv
import os
import pickle

import numpy as np

from mcn_cl import demo

SAMPLE_RATE = 16000


def write_wav(path: str, seconds: float = 0.2, sample_rate: int = SAMPLE_RATE, freq: float = 220.0) -> str:
    """A mono sine wav of `seconds` (16-bit PCM), through `mcn_cl.demo.write_wav`."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return demo.write_wav(path, 0.3 * np.sin(2 * np.pi * freq * t), sample_rate)


def write_video(
    path: str, seconds: float = 0.4, fps: int = 10, size: int = 32, audio: bool = True, video: bool = True
) -> str:
    """A tiny clip (mpeg4 frames of changing gray levels and/or an aac 330 Hz sine) in the container of `path`,
    through `mcn_cl.demo.write_mp4`."""
    frames = None
    if video:
        levels = (np.arange(max(1, int(round(seconds * fps)))) * 37) % 255
        frames = np.broadcast_to(levels[:, None, None, None], (len(levels), size, size, 3)).astype(np.uint8)
    samples = None
    if audio:
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        samples = 0.3 * np.sin(2 * np.pi * 330 * t)
    return demo.write_mp4(path, frames, fps=fps, audio=samples, sampling_rate=SAMPLE_RATE)


# ----------------------------------------------------------------------------------------------------- IEMOCAP

# Per dialogue: (turn suffix, code, start, end, text), deliberately NOT in time order.
_IEMOCAP_TURNS = {
    "impro01": [
        ("M000", "fru", 3.1, 4.0, "Where have you been?"),
        ("F000", "neu", 1.2, 2.9, "Excuse me."),
        ("F001", "xxx", 4.5, 5.2, "I don't know."),
        ("M001", "exc", 5.6, 6.3, "Great!"),
        ("F002", "hap", 6.8, 7.9, "That's wonderful."),
    ],
    "script01_1": [
        ("F000", "sad", 0.5, 1.5, "I miss him."),
        ("M000", "ang", 1.7, 2.4, "Stop it."),
        ("F001", "sur", 2.6, 3.0, "What?"),
        ("M001", "neu", 3.2, 4.4, "Nothing."),
    ],
}


def iemocap_dialogue_ids(session: int) -> list[str]:
    gender = "F" if session % 2 else "M"
    return [f"Ses{session:02d}{gender}_{name}" for name in _IEMOCAP_TURNS]


def make_iemocap_tree(
    root: str, with_media: bool = True
) -> dict[str, list[tuple[str, str, float, float, str]]]:
    """Write Session1..5 in the IEMOCAP_full_release layout under `root`; return dialogue -> turns.

    Each session holds 2 dialogues (10 in all, 8 in sessions 1-4). The AVI of session 1's first dialogue is
    named with an upper-case extension (`.AVI`) to exercise the case-insensitive lookup.
    """
    spec = {}
    for s in range(1, 6):
        sess = os.path.join(root, f"Session{s}")
        for dialog, (name, turns) in zip(iemocap_dialogue_ids(s), _IEMOCAP_TURNS.items()):
            turns = [(f"{dialog}_{suffix}", code, st, en, text) for suffix, code, st, en, text in turns]
            spec[dialog] = turns
            ev = os.path.join(sess, "dialog", "EmoEvaluation")
            tr = os.path.join(sess, "dialog", "transcriptions")
            os.makedirs(ev, exist_ok=True)
            os.makedirs(tr, exist_ok=True)
            os.makedirs(os.path.join(ev, "Categorical"), exist_ok=True)  # sub-folders exist in the release
            with open(os.path.join(ev, f"{dialog}.txt"), "w") as f:
                f.write("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n")
                for turn, code, st, en, _ in turns:
                    f.write(f"[{st:.4f} - {en:.4f}]\t{turn}\t{code}\t[2.5000, 2.5000, 2.5000]\n")
                    f.write(f"C-E1:\t{code.capitalize()};\t()\n")
                    f.write("C-E2:\tNeutral;\t()\n")
                    f.write("A-E2:\tval 3; act 2; dom  3;\t()\n\n")
            with open(os.path.join(tr, f"{dialog}.txt"), "w") as f:
                f.write("M: breathing\n")
                for turn, _, st, en, text in turns:
                    f.write(f"{turn} [{st:08.4f}-{en:08.4f}]: {text}\n")
                f.write(f"{dialog}_MXX0 [009.0000-009.5000]: [LAUGHTER]\n")
            if with_media:
                for turn, *_ in turns:
                    write_wav(os.path.join(sess, "sentences", "wav", dialog, f"{turn}.wav"), seconds=0.1)
                ext = ".AVI" if (s == 1 and name == "impro01") else ".avi"
                write_video(os.path.join(sess, "dialog", "avi", "DivX", dialog + ext), seconds=0.3, size=16)
    return spec


# -------------------------------------------------------------------------------------------------------- MELD

MELD_HEADER = [
    "Sr No.",
    "Utterance",
    "Speaker",
    "Emotion",
    "Sentiment",
    "Dialogue_ID",
    "Utterance_ID",
    "Season",
    "Episode",
    "StartTime",
    "EndTime",
]

# split -> list of (dialogue id, utterance id, text, speaker, emotion, sentiment); utterances out of order
MELD_ROWS = {
    "train": [
        (0, 0, "also I was the point person on my company’s transition.", "Chandler", "neutral", "neutral"),
        (0, 1, "You must’ve had your hands full…", "The Interviewer", "neutral", "neutral"),
        (0, 2, "That I did — that I did.", "Chandler", "joy", "positive"),
        (1, 1, "Oh my God!", "Monica", "surprise", "positive"),
        (1, 0, "“Hey” you guys.", "Joey", "joy", "positive"),
        (2, 0, "Get out.", "Ross", "anger", "negative"),
        (2, 1, "I’m scared.", "Rachel", "fear", "negative"),
    ],
    "dev": [
        (0, 0, "This is gross.", "Phoebe", "disgust", "negative"),
        (0, 1, "I’m sorry.", "Ross", "sadness", "negative"),
        (1, 0, "Café time.", "Rachel", "neutral", "neutral"),
    ],
    "test": [
        (0, 0, "See ya.", "Joey", "neutral", "neutral"),
        (0, 1, "Bye…", "Monica", "sadness", "negative"),
    ],
}
MELD_CSV = {"train": "train_sent_emo.csv", "dev": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
MELD_CLIP_DIRS = {
    "train": "train_splits",
    "dev": "dev_splits_complete",
    "test": "output_repeated_splits_test",
}


def to_c1(text: str) -> str:
    """The MELD.Raw damage: encode with cp1252 and keep bytes 0x80-0x9F as code points."""
    return text.encode("cp1252").decode("latin-1")


def write_meld_csv(path: str, rows, c1: bool = False, drop_column: str | None = None) -> str:
    header = [c for c in MELD_HEADER if c != drop_column]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, (dia, utt, text, speaker, emo, sent) in enumerate(rows, 1):
            record = dict(
                zip(
                    MELD_HEADER,
                    [
                        i,
                        to_c1(text) if c1 else text,
                        speaker,
                        emo,
                        sent,
                        dia,
                        utt,
                        1,
                        1,
                        "00:00:01,000",
                        "00:00:02,000",
                    ],
                )
            )
            w.writerow([record[c] for c in header])
    return path


def make_meld_tree(
    root: str, c1: bool = False, clips: bool = True, train_folder: str = "train_splits"
) -> dict:
    """Write the MELD.Raw layout under `root`; return the names of the deliberately bad clips.

    Bad clips: train dia1_utt1 corrupt (garbage bytes), dev dia1_utt0 missing, test dia0_utt1 too long (2 s,
    for a threshold of 1 s), train dia2_utt1 video-only (no audio stream). Good clips last 0.3 s.
    """
    os.makedirs(root, exist_ok=True)
    for split, rows in MELD_ROWS.items():
        write_meld_csv(os.path.join(root, MELD_CSV[split]), rows, c1=c1)
    bad = {
        "corrupt": ("train", "dia1_utt1"),
        "missing": ("dev", "dia1_utt0"),
        "long": ("test", "dia0_utt1"),
        "no_audio": ("train", "dia2_utt1"),
    }
    if not clips:
        return bad
    for split, rows in MELD_ROWS.items():
        folder = os.path.join(root, train_folder if split == "train" else MELD_CLIP_DIRS[split])
        os.makedirs(folder, exist_ok=True)
        for dia, utt, *_ in rows:
            name = f"dia{dia}_utt{utt}"
            path = os.path.join(folder, name + ".mp4")
            if (split, name) == bad["missing"]:
                continue
            if (split, name) == bad["corrupt"]:
                with open(path, "wb") as f:
                    f.write(b"\x00\x01not an mp4 at all" * 8)
            elif (split, name) == bad["long"]:
                write_video(path, seconds=2.0, size=16, fps=5)
            elif (split, name) == bad["no_audio"]:
                write_video(path, seconds=0.3, size=16, audio=False)
            else:
                write_video(path, seconds=0.3, size=16)
    return bad


# --------------------------------------------------------------------------------------------- feature pickles


def make_feature_pickle(
    path: str, dataset: str = "iemocap", sizes=(100, 1582, 342), protocol: int = 4, seed: int = 0
) -> dict:
    """Write a feature pickle in the published tuple layout; return the tuple's fields as a dict."""
    rng = np.random.default_rng(seed)
    d_t, d_a, d_v = sizes
    if dataset == "iemocap":
        train = [f"Ses0{s}F_impro0{k}" for s in range(1, 5) for k in range(1, 4)]  # 12
        test = ["Ses05F_impro01", "Ses05M_script01_1"]
        n_labels = 6
    else:
        train = list(range(0, 20))  # MELD uses int dialogue ids; train + dev
        test = [1000, 1001, 1002]
        n_labels = 7
    ids, speakers, labels, text, audio, visual, sentences = {}, {}, {}, {}, {}, {}, {}
    for vid in train + test:
        n = int(rng.integers(2, 6))
        ids[vid] = [f"{vid}_u{i}" for i in range(n)]
        if dataset == "iemocap":
            speakers[vid] = [["M", "F"][int(x)] for x in rng.integers(0, 2, n)]
        else:
            speakers[vid] = [list(np.eye(9)[int(x)]) for x in rng.integers(0, 9, n)]
        labels[vid] = [int(x) for x in rng.integers(0, n_labels, n)]
        text[vid] = rng.standard_normal((n, d_t)).astype(np.float32)
        audio[vid] = [rng.standard_normal(d_a).astype(np.float32) for _ in range(n)]  # list of vectors
        visual[vid] = rng.standard_normal((n, d_v)).astype(np.float64)
        sentences[vid] = [f"utterance {i} of {vid}" for i in range(n)]
    fields = [ids, speakers, labels, text, audio, visual, sentences, set(train), set(test)]
    if dataset == "meld":
        fields.append(None)  # the trailing element of the MELD file
    with open(path, "wb") as f:
        pickle.dump(tuple(fields), f, protocol=protocol)
    return dict(
        zip(
            [
                "videoIDs",
                "videoSpeakers",
                "videoLabels",
                "videoText",
                "videoAudio",
                "videoVisual",
                "videoSentence",
                "trainVid",
                "testVid",
            ],
            fields,
        )
    )
