#!/usr/bin/python3
"""A loopback RTSP camera for tests: GStreamer's RTSP server serving an H.264 mp4.

Runs under Debian's ``/usr/bin/python3`` (the GObject bindings live there, not in the
project's virtual environment). Prints ``READY`` on stdout once it listens.

    /usr/bin/python3 tests/support/rtsp_server.py --clip CLIP.mp4 --port 8554 --path /cam \
        [--realtime] [--loop] [--shared]

The stream is passed through (no re-encode) so serving costs almost no CPU.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def _launch_line(clip: str, realtime: bool) -> str:
    # Without a clock-synchronised element the file is pushed as fast as the sink accepts
    # it, which is not how a camera behaves; clocksync paces buffers to their timestamps.
    pace = " ! clocksync" if realtime else ""
    location = clip.replace('"', '\\"')
    return (
        f'( filesrc location="{location}" ! qtdemux ! h264parse config-interval=-1{pace}'
        " ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


class _LoopingFactory(GstRtspServer.RTSPMediaFactory):  # type: ignore[misc]
    """A media factory whose pipeline seeks back to the start instead of ending.

    The RTSP media owns its pipeline's bus, so the end of the clip is caught with a pad
    probe at the payloader: the EOS is dropped and a flushing seek to 0 is scheduled.
    """

    def __init__(self, launch: str) -> None:
        super().__init__()
        self.set_launch(launch)
        self.connect("media-configure", self._on_media_configure)

    def _on_media_configure(self, _factory: object, media: GstRtspServer.RTSPMedia) -> None:
        element = media.get_element()
        payloader = element.get_by_name("pay0")
        pad = payloader.get_static_pad("sink")

        def rewind() -> bool:
            pipeline = element.get_parent() or element
            pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
            return False

        def on_event(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
            event = info.get_event()
            if event is not None and event.type == Gst.EventType.EOS:
                GLib.idle_add(rewind)
                return Gst.PadProbeReturn.DROP
            return Gst.PadProbeReturn.OK

        pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_event)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clip", required=True, help="H.264 mp4 file to serve")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--path", default="/cam", help="mount path, e.g. /cam")
    parser.add_argument("--realtime", action="store_true", help="pace the stream at its frame rate")
    parser.add_argument("--loop", action="store_true", help="restart the clip at its end")
    parser.add_argument("--shared", action="store_true", help="one pipeline for all clients")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    launch = _launch_line(args.clip, args.realtime)
    factory = _LoopingFactory(launch) if args.loop else GstRtspServer.RTSPMediaFactory()
    if not args.loop:
        factory.set_launch(launch)
    factory.set_shared(args.shared)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
    server.get_mount_points().add_factory(args.path, factory)

    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
