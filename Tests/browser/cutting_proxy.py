"""A TCP proxy in front of the server whose open connections a test can cut, as a lost network would.

Chromium's offline emulation leaves a response that is already streaming alone, so it cannot show what the
console does when a reply's connection breaks; closing the sockets under it does.
"""

import socket
import threading


class CuttingProxy:
    """Listens on 127.0.0.1 (a free port) and forwards each connection to `target` ("host", port)."""

    def __init__(self, target):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sockets = []
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(source, destination):
        try:
            while data := source.recv(65536):
                destination.sendall(data)
        except OSError:
            pass
        for each in (source, destination):
            try:
                each.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """Resets every connection open now (the browser sees its responses break mid-way)."""
        with self.lock:
            sockets, self.sockets = self.sockets, []
            self.cuts += 1
        # shutdown, not just close: it wakes the threads blocked reading these sockets, and ends each stream
        # where it stands (a chunked response cut short, as when a connection dies).
        for each in sockets:
            try:
                each.shutdown(socket.SHUT_RDWR)
                each.close()
            except OSError:
                pass

    def close(self):
        self.listener.close()
        self.cut()
