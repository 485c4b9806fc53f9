"""Video sampling and images in the user's turn."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from voxline import Agent, AgentSession
from voxline.llm import ImageContent
from voxline.testing import FakeActions, FakeLLM, create_session, run_session
from voxline.video import VideoFrame, VoiceActivityVideoSampler, encode_image
from voxline.voice.io import VideoInput


def _frame(color: tuple[int, int, int], width: int = 64, height: int = 48) -> VideoFrame:
    data = np.zeros((height, width, 3), dtype=np.uint8)
    data[:, :] = color
    return VideoFrame(data)


class Camera(VideoInput):
    """30 frames a second; red, then blue after `switch_at` seconds."""

    def __init__(self, *, switch_at: float = 1e9, width: int = 64) -> None:
        self.switch_at = switch_at
        self.width = width
        self.frames = 0

    def __aiter__(self) -> AsyncIterator[VideoFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[VideoFrame]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            color = (255, 0, 0) if loop.time() - start < self.switch_at else (0, 0, 255)
            self.frames += 1
            yield _frame(color, width=self.width, height=self.width * 3 // 4)
            await asyncio.sleep(1 / 30)


class Session:
    user_state = "listening"


def test_voice_activity_sampler_rates() -> None:
    sampler = VoiceActivityVideoSampler(speaking_fps=1.0, silent_fps=0.25)
    session = Session()
    times = [i / 30 for i in range(30 * 8)]
    kept = [t for t in times if sampler(VideoFrame(_frame((0, 0, 0)).data, timestamp=t), session)]
    assert kept == pytest.approx([0.0, 4.0])  # 8 s of silence at 0.25 fps
    session.user_state = "speaking"
    later = [8 + i / 30 for i in range(30 * 4)]
    kept = [t for t in later if sampler(VideoFrame(_frame((0, 0, 0)).data, timestamp=t), session)]
    assert kept == pytest.approx([8.0, 9.0, 10.0, 11.0])  # 4 s of speech at 1 fps
    with pytest.raises(ValueError, match="fps"):
        VoiceActivityVideoSampler(speaking_fps=0)


def test_images_are_downscaled_and_encoded_once() -> None:
    frame = _frame((10, 200, 30), width=2000, height=1000)
    content = encode_image(frame, max_size=(512, 512))
    assert isinstance(content.image, bytes) and content.mime_type == "image/jpeg"
    assert Image.open(io.BytesIO(content.image)).size == (512, 256)
    assert encode_image(frame, max_size=(512, 512)) is content
    with pytest.raises(ValueError, match="uint8"):
        VideoFrame(np.zeros((4, 4), dtype=np.uint8))


@pytest.mark.virtual_time
async def test_the_latest_sampled_frame_joins_the_user_turn() -> None:
    actions = FakeActions()
    actions.add_user_speech(3.0, 4.0, "What do you see?")
    actions.add_llm("Something blue.")
    session = create_session(actions)
    camera = Camera(switch_at=2.0, width=800)
    session.input.video = camera
    session.input.video_max_size = (400, 400)
    await run_session(session, Agent(instructions="Describe what you see."))
    llm = session.llm
    assert isinstance(llm, FakeLLM)
    user = llm.requests[0].items[-1]
    assert user.type == "message" and user.text_content == "What do you see?"
    images = [c for c in user.content if isinstance(c, ImageContent)]
    assert len(images) == 1
    assert isinstance(images[0].image, bytes)
    image = Image.open(io.BytesIO(images[0].image))
    assert image.size == (400, 300)  # downscaled to the configured box
    pixels = np.asarray(image)
    assert pixels[..., 2].mean() > 200 and pixels[..., 0].mean() < 50  # blue: the recent frame
    assert camera.frames > 100  # the camera ran at full rate; only samples were kept
    parts = llm.requests[0].to_openai()[-1]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")


@pytest.mark.virtual_time
async def test_text_input_carries_the_picture_too_and_video_can_be_disabled() -> None:
    actions = FakeActions()
    actions.add_llm("A red square.", input="what is this?")
    llm = FakeLLM(actions)
    session: AgentSession[Any] = AgentSession(llm=llm, video_sampler=None)
    session.input.video = Camera()
    await session.start(Agent(instructions="Look."))
    await asyncio.sleep(0.5)
    await session.generate_reply(user_input="what is this?")
    assert any(isinstance(c, ImageContent) for c in llm.requests[-1].items[-1].content)
    session.input.set_video_enabled(False)
    session._latest_video_frame = None
    await asyncio.sleep(0.5)
    await session.generate_reply(user_input="what is this?")
    assert not any(isinstance(c, ImageContent) for c in llm.requests[-1].items[-1].content)
    await session.aclose()
