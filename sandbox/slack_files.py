"""The sandbox Slack's file uploads, as ``files_upload_v2`` makes them:
``files.getUploadURLExternal`` (an id and an upload URL), a POST of the bytes to that URL, and
``files.completeUploadExternal`` (shared in a channel or thread). The bytes are kept, and served
at the file's ``url_private`` (``GET /files/<id>``) so that a test can open what was uploaded;
a dumped world lists the files' metadata under ``slack.files``."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import BodyPartReader, web

from sandbox.slack_state import SlackApiError, SlackState, required


def _mimetype(name: str) -> str:
    return "image/png" if name.lower().endswith(".png") else "application/octet-stream"


class SlackFiles:
    """The upload methods of the sandbox's Slack (mixed into its service)."""

    base_url: str
    _get_state: Callable[[], SlackState]

    def _upload_url(self, state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        """``files.getUploadURLExternal``: a file id and where to POST its bytes."""
        filename = required(args, "filename")
        length = str(required(args, "length"))
        if not length.isdigit() or int(length) < 1:
            raise SlackApiError("invalid_arguments")
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        state.files[file_id] = {
            "id": file_id,
            "name": filename,
            "length": int(length),
            "size": 0,
            "uploaded": False,
            "url_private": f"{self.base_url}/files/{file_id}",
        }
        return {"file_id": file_id, "upload_url": f"{self.base_url}/upload/v1/{file_id}"}

    async def upload(self, request: web.Request) -> web.Response:
        """The upload URL: the file's bytes in the body (raw or multipart), exactly `length`."""
        state = self._get_state()
        found = state.files.get(request.match_info["file_id"])
        if found is None or found["uploaded"]:
            return web.Response(status=404, text="upload url not found")
        if request.content_type.startswith("multipart/"):
            data = b""
            async for part in await request.multipart():
                if isinstance(part, BodyPartReader):
                    data = await part.read()
                    break
        else:
            data = await request.read()
        if len(data) != found["length"]:
            return web.Response(status=400, text="length mismatch")
        state.file_bytes[found["id"]] = data
        found.update(uploaded=True, size=len(data), sha256=hashlib.sha256(data).hexdigest())
        return web.Response(text=f"OK - {len(data)}")

    @staticmethod
    def _complete_upload(state: SlackState, args: dict[str, Any]) -> dict[str, Any]:
        """``files.completeUploadExternal``: share uploaded files in a channel (or thread)."""
        files = args.get("files")
        if not isinstance(files, list) or not files:
            raise SlackApiError("invalid_arguments")
        channel = args.get("channel_id")
        channel_id = state.channel_id(str(channel)) if channel else None
        if channel and channel_id is None:
            raise SlackApiError("channel_not_found")
        if channel_id:
            state.require_member(channel_id)
        out = []
        for item in files:
            found = state.files.get(str(item.get("id"))) if isinstance(item, dict) else None
            if found is None or not found["uploaded"]:
                raise SlackApiError("file_not_found")
            found.update(
                title=item.get("title") or found["name"],
                mimetype="image/png"
                if found["name"].endswith(".png")
                else "application/octet-stream",
                channels=[channel_id] if channel_id else [],
                thread_ts=args.get("thread_ts"),
                initial_comment=args.get("initial_comment"),
            )
            out.append(dict(found))
        return {"files": out}

    async def download(self, request: web.Request) -> web.Response:
        """A file's bytes (Slack's ``url_private``), for tests to open what was uploaded."""
        state = self._get_state()
        file_id = request.match_info["file_id"]
        data = state.file_bytes.get(file_id)
        if data is None:
            return web.Response(status=404, text="file_not_found")
        mimetype = str(state.files.get(file_id, {}).get("mimetype") or "application/octet-stream")
        return web.Response(body=data, content_type=mimetype)
