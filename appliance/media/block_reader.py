"""The seekable, read-only plaintext view both encrypted file formats of the spool share: a
subclass only says which decrypted block holds a position."""

from __future__ import annotations

import io


class BlockReader(io.RawIOBase):
    """Reads, seeks and tells over `_size` bytes of plaintext kept in decrypted blocks."""

    _size: int
    _pos: int = 0

    def _block_at(self, position: int) -> tuple[bytes, int]:
        """The decrypted block holding `position`, and the position's offset inside it."""
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        position = base + offset
        if position < 0:
            raise ValueError("negative seek position")
        self._pos = position
        return position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._pos >= self._size:
            return 0
        block, offset = self._block_at(self._pos)
        count = min(len(buffer), len(block) - offset)
        memoryview(buffer)[:count] = block[offset : offset + count]
        self._pos += count
        return count


__all__ = ["BlockReader"]
