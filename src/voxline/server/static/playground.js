// voxline playground: talk to an agent from the browser through the embedded room server.
//
// One RTCPeerConnection to POST /rtc/webrtc/offer (non-trickle, token in the Authorization
// header). The microphone goes up as an Opus track; the agent's voice comes back on one
// track. The data channel "voxline" carries the server's JSON messages (PROTOCOL.md): room
// events, and data packets {h: header, p: base64 payload} holding text streams. The page
// reads LiveKit's conventions from them: transcripts on "lk.transcription" (segment id,
// final flag), chat on "lk.chat", and the agent's state in its "lk.agent.state" attribute.
"use strict";

const TOPIC_TRANSCRIPTION = "lk.transcription";
const TOPIC_CHAT = "lk.chat";
const ATTR_AGENT_STATE = "lk.agent.state";
const ATTR_SEGMENT_ID = "lk.segment_id";
const ATTR_FINAL = "lk.transcription_final";
const ATTR_TRANSCRIBED_TRACK = "lk.transcribed_track_id";
const CHUNK_BYTES = 15000; // text stream chunk limit, as on LiveKit
const STATS_INTERVAL_MS = 1000;

const $ = (id) => document.getElementById(id);

const state = {
  connection: "disconnected",
  identity: null,
  room: null,
  pc: null,
  channel: null,
  microphone: null,
  camera: null,
  participants: new Map(), // identity -> participant info from the server
  segments: new Map(), // transcript segment id -> {item, user, text, final}
  streams: new Map(), // open incoming text stream id -> {topic, segment, user, decoder, text}
  stats: { inboundAudioBytes: 0, inboundAudioEnergy: 0, packetsReceived: 0 },
  statsTimer: null,
};

function token() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  return fromHash || new URLSearchParams(location.search).get("token");
}

// ------------------------------------------------------------------------------ status

function setConnection(value) {
  state.connection = value;
  const pill = $("connection");
  pill.textContent = value;
  pill.dataset.state = value;
  const live = value === "connected";
  $("connect").textContent = value === "disconnected" || value === "failed" ? "Connect" : "Disconnect";
  $("connect").classList.toggle("primary", !live);
  $("mic").disabled = !live;
  $("camera").disabled = !live || !state.camera;
  $("camera-opt-in").disabled = value !== "disconnected" && value !== "failed";
  $("chat-text").disabled = !live;
  document.querySelector("#chat button").disabled = !live;
}

function showError(message) {
  const el = $("error");
  el.textContent = message;
  el.hidden = !message;
}

function agentParticipant() {
  for (const p of state.participants.values()) {
    if (p.kind === "agent" || (p.attributes && ATTR_AGENT_STATE in p.attributes)) return p;
  }
  return null;
}

function renderAgentState() {
  const agent = agentParticipant();
  const value = agent ? (agent.attributes || {})[ATTR_AGENT_STATE] || "joined" : null;
  const pill = $("agent-state");
  pill.textContent = value ? `agent: ${value}` : "agent: —";
  pill.dataset.state = value || "none";
}

// ------------------------------------------------------------------------------ transcript

function addItem(user, text, interim) {
  $("empty-hint").hidden = true;
  const item = document.createElement("li");
  item.className = user ? "user" : "agent";
  item.classList.toggle("interim", Boolean(interim));
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = user ? "You" : "Agent";
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(who, body);
  $("transcript").append(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

function segment(id, user) {
  let seg = state.segments.get(id);
  if (!seg) {
    seg = { item: addItem(user, "", true), user, text: "", final: false };
    state.segments.set(id, seg);
  }
  return seg;
}

function renderSegment(seg) {
  seg.item.querySelector(".text").textContent = seg.text;
  seg.item.classList.toggle("interim", !seg.final);
  seg.item.scrollIntoView({ block: "end" });
}

// ------------------------------------------------------------------------------ text streams in

// Whose words a transcript carries: the stream's sender (the agent sends the user's
// transcripts on the user's behalf), else the owner of the transcribed track.
function isUserTranscript(from, header, attributes) {
  const sender = header.sender_identity || from;
  if (sender === state.identity) return true;
  if (header.sender_identity) return false; // sent on behalf of someone else
  const track = attributes[ATTR_TRANSCRIBED_TRACK];
  if (!track) return false;
  for (const p of state.participants.values()) {
    if ((p.tracks || []).some((t) => t.sid === track)) return false;
  }
  return true; // a track no other participant published: ours
}

function onStreamHeader(from, header) {
  if (header.kind !== "text") return;
  const attributes = header.attributes || {};
  const user = isUserTranscript(from, header, attributes);
  const stream = { topic: header.topic, user, decoder: new TextDecoder(), text: "", segment: null };
  if (header.topic === TOPIC_TRANSCRIPTION) {
    stream.segment = segment(attributes[ATTR_SEGMENT_ID] || header.stream_id, user);
    // A new stream restates its segment from the start (interim user transcripts); within a
    // stream, chunks are deltas (the agent's words, paced with its audio).
    stream.segment.text = "";
    stream.segment.final = attributes[ATTR_FINAL] === "true";
    renderSegment(stream.segment);
  } else if (header.topic !== TOPIC_CHAT) {
    return;
  }
  state.streams.set(header.stream_id, stream);
}

function onStreamChunk(header, payload) {
  const stream = state.streams.get(header.id);
  if (!stream) return;
  const text = stream.decoder.decode(payload, { stream: true });
  if (stream.segment) {
    stream.segment.text += text;
    renderSegment(stream.segment);
  } else {
    stream.text += text;
  }
}

function onStreamTrailer(header) {
  const stream = state.streams.get(header.id);
  if (!stream) return;
  state.streams.delete(header.id);
  const attributes = header.attributes || {};
  if (stream.segment) {
    stream.segment.text += stream.decoder.decode();
    if (attributes[ATTR_FINAL] === "true") stream.segment.final = true;
    renderSegment(stream.segment);
  } else if (stream.topic === TOPIC_CHAT && !stream.user) {
    addItem(false, stream.text + stream.decoder.decode(), false);
  }
}

// ------------------------------------------------------------------------------ packets

function base64ToBytes(text) {
  const binary = atob(text || "");
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function onPacket(from, packet) {
  const header = packet && packet.h;
  if (!header) return;
  if (header.t === "sh") onStreamHeader(from, header);
  else if (header.t === "sc") onStreamChunk(header, base64ToBytes(packet.p));
  else if (header.t === "st") onStreamTrailer(header);
}

function sendPacket(header, payload) {
  const packet = { h: header, p: payload ? bytesToBase64(payload) : "" };
  state.channel.send(JSON.stringify({ type: "packet", packet, destination_identities: [] }));
}

function sendChat(text) {
  const id = `PS_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const bytes = new TextEncoder().encode(text);
  sendPacket({
    t: "sh", stream_id: id, kind: "text", topic: TOPIC_CHAT, timestamp: Date.now(),
    mime_type: "text/plain", attributes: {}, total_size: bytes.length, name: "",
    sender_identity: null, reply_to_id: null,
  });
  // Split on character boundaries: never cut a UTF-8 sequence in two.
  let index = 0;
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + CHUNK_BYTES, bytes.length);
    while (end < bytes.length && (bytes[end] & 0xc0) === 0x80) end--;
    sendPacket({ t: "sc", id, i: index++ }, bytes.subarray(start, end));
    start = end;
  }
  sendPacket({ t: "st", id, reason: "", attributes: {} });
  addItem(true, text, false);
}

// ------------------------------------------------------------------------------ room messages

function onMessage(event) {
  let message;
  try {
    message = JSON.parse(event.data);
  } catch (e) {
    return;
  }
  switch (message.type) {
    case "join":
      state.identity = message.participant.identity;
      state.room = message.room.name;
      $("room-name").textContent = `room ${state.room} · you are ${state.identity}`;
      for (const p of message.participants) state.participants.set(p.identity, p);
      renderAgentState();
      break;
    case "participant_joined":
    case "participant_updated":
      if (message.participant.identity !== state.identity) {
        state.participants.set(message.participant.identity, message.participant);
        renderAgentState();
      }
      break;
    case "participant_left":
      state.participants.delete(message.identity);
      renderAgentState();
      break;
    case "track_published":
    case "track_unpublished": {
      const p = state.participants.get(message.identity);
      if (p) {
        const sid = message.track ? message.track.sid : message.track_sid;
        p.tracks = (p.tracks || []).filter((t) => t.sid !== sid);
        if (message.type === "track_published") p.tracks.push(message.track);
      }
      break;
    }
    case "packet":
      onPacket(message.from, message.packet);
      break;
    case "disconnected":
      disconnect(`the server ended the call (${message.reason})`);
      break;
    case "error":
      showError(`${message.code}: ${message.message}`);
      break;
    default:
      break;
  }
}

// ------------------------------------------------------------------------------ media

function meterAgentAudio(stream) {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const bar = $("agent-level");
  const tick = () => {
    if (!state.pc) {
      bar.style.width = "0";
      context.close();
      return;
    }
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const v of samples) sum += v * v;
    bar.style.width = `${Math.min(100, Math.sqrt(sum / samples.length) * 400)}%`;
    requestAnimationFrame(tick);
  };
  tick();
}

async function collectStats() {
  if (!state.pc) return;
  const report = await state.pc.getStats();
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      state.stats.inboundAudioBytes = s.bytesReceived || 0;
      state.stats.inboundAudioEnergy = s.totalAudioEnergy || 0;
      state.stats.packetsReceived = s.packetsReceived || 0;
    }
  });
}

// ------------------------------------------------------------------------------ connect

async function connect() {
  const jwt = token();
  if (!jwt) {
    showError("No access token: open the URL `voxline playground` printed (it ends in #token=…).");
    return;
  }
  showError("");
  setConnection("connecting");
  try {
    const wantCamera = $("camera-opt-in").checked;
    const media = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: wantCamera,
    });
    state.microphone = media.getAudioTracks()[0];
    state.camera = media.getVideoTracks()[0] || null;

    const pc = new RTCPeerConnection({ iceServers: [] });
    state.pc = pc;
    pc.addTrack(state.microphone, media);
    if (state.camera) {
      pc.addTrack(state.camera, media);
      $("preview").srcObject = new MediaStream([state.camera]);
      $("preview").hidden = false;
      $("camera").hidden = false;
    }
    // Created before the offer: the server expects the channel in the SDP.
    const channel = pc.createDataChannel("voxline", { ordered: true });
    state.channel = channel;
    channel.onmessage = onMessage;
    channel.onopen = () => setConnection("connected");
    channel.onclose = () => state.pc && disconnect("the data channel closed");

    pc.ontrack = (event) => {
      if (event.track.kind !== "audio") return;
      const stream = event.streams[0] || new MediaStream([event.track]);
      $("agent-audio").srcObject = stream;
      $("agent-audio").play().catch(() => showError("Click anywhere to let the page play audio."));
      meterAgentAudio(stream);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") disconnect("the connection failed");
    };

    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") resolve();
      });
    });
    const response = await fetch("/rtc/webrtc/offer", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${jwt}` },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.msg || `the server refused the call (${response.status})`);
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    state.statsTimer = setInterval(collectStats, STATS_INTERVAL_MS);
  } catch (error) {
    disconnect(String(error.message || error));
    setConnection("failed");
  }
}

function disconnect(reason) {
  if (state.channel && state.channel.readyState === "open") {
    state.channel.send(JSON.stringify({ type: "leave" }));
  }
  clearInterval(state.statsTimer);
  const pc = state.pc;
  state.pc = null;
  state.channel = null;
  if (pc) pc.close();
  for (const track of [state.microphone, state.camera]) if (track) track.stop();
  state.microphone = null;
  state.camera = null;
  state.participants.clear();
  state.streams.clear();
  $("preview").hidden = true;
  $("camera").hidden = true;
  renderAgentState();
  setConnection("disconnected");
  if (reason) showError(reason);
}

function toggle(track, button, onLabel, offLabel) {
  if (!track) return;
  track.enabled = !track.enabled;
  button.setAttribute("aria-pressed", String(track.enabled));
  button.textContent = track.enabled ? onLabel : offLabel;
}

// ------------------------------------------------------------------------------ wiring

$("connect").addEventListener("click", () => (state.pc ? disconnect("") : connect()));
$("mic").addEventListener("click", () =>
  toggle(state.microphone, $("mic"), "Mute microphone", "Unmute microphone"));
$("camera").addEventListener("click", () =>
  toggle(state.camera, $("camera"), "Turn camera off", "Turn camera on"));
$("chat").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-text");
  const text = input.value.trim();
  if (!text || !state.channel) return;
  sendChat(text);
  input.value = "";
});
window.addEventListener("beforeunload", () => state.pc && disconnect(""));
setConnection("disconnected");

// What the page shows, as data: for scripts driving the page (and the browser test).
window.voxlinePlayground = {
  connect,
  disconnect,
  snapshot: () => ({
    connection: state.connection,
    identity: state.identity,
    room: state.room,
    agentState: (agentParticipant() || { attributes: {} }).attributes[ATTR_AGENT_STATE] || null,
    transcript: [...state.segments.values()].map((s) => ({ user: s.user, text: s.text, final: s.final })),
    stats: { ...state.stats },
  }),
};
