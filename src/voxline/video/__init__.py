"""Video for agents that see: frames, the voice-activity sampler, and image encoding."""

from .encode import encode_image
from .frame import VideoFrame
from .sampler import VideoSampler, VoiceActivityVideoSampler

__all__ = ["VideoFrame", "VideoSampler", "VoiceActivityVideoSampler", "encode_image"]
