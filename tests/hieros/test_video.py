"""Evaluation episodes as GIFs in the run directory: frames the agent saw, one per step, for image tasks only; and the
labels of the open-loop video (rows named, observed and imagined steps told apart)."""

import numpy as np
from PIL import Image

from hieros import video
from hieros.train import main

ATARI = [
    "--configs",
    "atari100k",
    "debug",
    "--task=atari_pong",
    "--model_name=random",
    "--tensorboard=false",
    "--steps=800",
    "--eval_every=200",
    "--eval_eps=2",
    "--env.atari.length=400",
]


def test_the_first_episode_of_every_evaluation_is_a_gif_of_what_the_agent_saw(tmp_path):
    run = tmp_path / "run"
    assert main([*ATARI, f"--logdir={run}"]) == 0
    videos = sorted((run / "videos").iterdir())
    assert [v.name for v in videos] == ["eval_000000200.gif", "eval_000000400.gif", "eval_000000600.gif"]
    with Image.open(videos[0]) as gif:  # the reset frame and one per step of 400 frames / 4, 50 ms each (Pillow
        shown = 0  # merges equal neighbours into one longer frame)
        for index in range(gif.n_frames):
            gif.seek(index)
            shown += gif.info["duration"]
        assert gif.size == (128, 128) and shown == 101 * 50


def test_video_every_spaces_them_and_zero_or_a_task_without_images_makes_none(tmp_path):
    assert main([*ATARI, "--video_every=2", f"--logdir={tmp_path / 'a'}"]) == 0
    assert sorted(v.name for v in (tmp_path / "a" / "videos").iterdir()) == ["eval_000000200.gif", "eval_000000600.gif"]
    assert main([*ATARI, "--video_every=0", f"--logdir={tmp_path / 'b'}"]) == 0
    assert not (tmp_path / "b" / "videos").exists()
    dmc = [
        "--configs",
        "dmc_proprio",
        "debug",
        "--task=dmc_cartpole_balance",
        "--model_name=random",
        "--steps=400",
        "--eval_every=200",
        "--eval_eps=1",
        "--tensorboard=false",
    ]
    assert main([*dmc, f"--logdir={tmp_path / 'c'}"]) == 0
    assert not (tmp_path / "c" / "videos").exists()


def test_the_open_loop_video_names_its_rows_and_marks_where_imagination_starts():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (3 * 8, 2 * 8, 3), dtype=np.uint8) for _ in range(6)]  # 3 rows, 2 sequences
    out = video.labelled(frames, ("real", "model", "difference"), context=2, columns=2, scale=2)
    top, rows, left = video.HEADER, 3 * 16, out[0].shape[1] - 2 * 16
    assert len(out) == 6 and {o.shape for o in out} == {(top + rows + video.TIMELINE, left + 32, 3)}
    for step, canvas in enumerate(out):
        grid = video.upscaled(frames[step], 2)
        assert (canvas[top : top + 14, left : left + 15] == grid[:14, :15]).all()  # the real row, as it was
        assert (canvas[top : top + 14, left + 15 : left + 17] == video.SEPARATOR).all()  # between sequences
        for row in range(3):  # each row's name, in the margin beside it
            assert canvas[top + 16 * row : top + 16 * (row + 1), :left].any()
        header = video.OBSERVED if step < 2 else video.IMAGINED
        assert tuple(canvas[1, -1]) == header and tuple(canvas[top + 16, left + 20]) == header  # the model's frame
        timeline = canvas[top + rows + video.TIMELINE // 2]
        cells = [tuple(timeline[left + 2 + round(i * 32 / 6)]) for i in range(6)]
        assert cells[:2] == [video.OBSERVED] * 2 and cells[2:] == [video.IMAGINED] * 4
        assert tuple(canvas[top + rows, left + round(2 * 32 / 6)]) == video.TEXT  # where imagination starts
    assert not np.array_equal(out[0][: video.HEADER], out[1][: video.HEADER])  # each step says which it is


def test_a_subgoal_picture_is_a_png_of_the_image_and_a_tensorboard_image(tmp_path):
    from hieros.config import build_config
    from hieros.logger import Logger

    image = np.random.default_rng(0).integers(0, 256, (8, 24, 3), dtype=np.uint8)
    logger = Logger(tmp_path)
    logger.open(build_config(["dmc_proprio", "debug"], {"tensorboard": "true"}), frames=0)
    logger.subgoals(image, step=12, frames=96)
    logger.close()
    written = tmp_path / video.SUBGOAL_DIR / "step_000000012.png"
    assert np.array_equal(np.asarray(Image.open(written)), image)  # RGB as given, lossless
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
