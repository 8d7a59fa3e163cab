# Whether a card is on the reader, from raw polls. Cheap readers miss a card
# that is lying still now and then (the MFRC522 sends it back to IDLE between
# polls), so removal needs several misses in a row; a new card counts at once.


class Presence:
    def __init__(self, misses: int = 3):
        self.misses = misses
        self.current = None
        self._missed = 0

    def poll(self, uid) -> bool:
        """A poll result (UID bytes or None) -> True when `current` changed."""
        if uid is None:
            if self.current is None:
                return False
            self._missed += 1
            if self._missed < self.misses:
                return False
            self.current = None
            self._missed = 0
            return True
        self._missed = 0
        if uid == self.current:
            return False
        self.current = uid
        return True
