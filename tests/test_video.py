"""Evaluation episodes as GIFs in the run directory: frames the agent saw, one per step, for image tasks only."""

from PIL import Image

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
