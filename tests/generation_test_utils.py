"""Test helpers of the generation package (a plain module, importable by
name from tests, and a script for subprocess / torchrun tests).

- :func:`fake_items` / :class:`FakeProducer`: deterministic fake entries
  (image + mask from a seed derived from the id), some skipped;
- ``python tests/generation_test_utils.py fake-generate OUT [...]``: the
  generation loop over fake entries, for kill -9 and torchrun tests;
- :class:`LoopbackChatServer`: a real HTTP server on 127.0.0.1 speaking
  the OpenAI chat-completions protocol, with modes ``normal``, ``slow``,
  ``500``, ``malformed``, ``refusing`` and ``down`` (see its docstring).
"""
import argparse
import os
import os.path as osp
import sys
import time

import numpy as np

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(HERE)


def fake_items(num_sources: int, per_source: int):
    """Work items ``src{i:03d}-{k}`` with their labels in ``data``."""
    from wsss_mm.generation import WorkItem, safe_id
    items = []
    for i in range(num_sources):
        for k in range(per_source):
            items.append(
                WorkItem(
                    safe_id(f'src{i:03d}', k),
                    dict(source=f'src{i:03d}', k=k, labels=[1 + i % 3])))
    return items


class FakeProducer:
    """Entries whose content depends only on the item id.

    Items whose index ``k == skip_k`` are skipped as a shortfall after
    ``max_tries`` tries; the others take ``1 + i % 2`` tries.
    """

    def __init__(self, sleep: float = 0., skip_k: int = -1,
                 max_tries: int = 3, with_mask: bool = True) -> None:
        self.sleep, self.skip_k = sleep, skip_k
        self.max_tries, self.with_mask = max_tries, with_mask
        self.calls = []

    def __call__(self, item):
        from wsss_mm.generation import GeneratedEntry, SkipItem, item_seed
        self.calls.append(item.id)
        if self.sleep:
            time.sleep(self.sleep)
        if item.data['k'] == self.skip_k:
            raise SkipItem(f'filter rejected {self.max_tries} tries',
                           'shortfall', self.max_tries)
        seed = item_seed(0, item.id)
        rng = np.random.default_rng(seed)
        img = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        files = {'image': img}
        if self.with_mask:
            files['mask'] = (rng.random((8, 8)) > 0.5).astype(
                np.uint8) * item.data['labels'][0]
        tries = 1 + int(item.data['source'][3:]) % 2
        return GeneratedEntry(
            files,
            dict(source_id=item.data['source'],
                 img_labels=item.data['labels'], seed=seed,
                 prompt=f'a photo {item.id}', scores=[0.9]),
            tries=tries)


def _fake_generate(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('out')
    parser.add_argument('--num-sources', type=int, default=6)
    parser.add_argument('--per-source', type=int, default=3)
    parser.add_argument('--sleep', type=float, default=0.)
    parser.add_argument('--skip-k', type=int, default=-1)
    parser.add_argument('--launcher', default='none')
    parser.add_argument(
        '--pause-before-append', type=int, default=-1,
        help='after the files of the N-th new entry are in place, print '
        '"files-in-place ID" and sleep before the manifest append')
    parser.add_argument(
        '--torn-append', type=int, default=-1,
        help='write only half of the N-th manifest line, print "torn ID" '
        'and sleep (what a kill inside the append leaves)')
    args = parser.parse_args(argv)

    from wsss_mm.generation import GenerationStore, run_generation

    class Store(GenerationStore):
        """Reports each commit on stdout; optional pauses for kill tests."""
        appended = 0

        def _append(self, path, line):
            if 'skipped' in osp.basename(path):
                return super()._append(path, line)
            n = Store.appended
            Store.appended += 1
            entry_id = line.split('"id": "', 1)[1].split('"', 1)[0]
            if n == args.pause_before_append:
                print(f'files-in-place {entry_id}', flush=True)
                time.sleep(120)
            if n == args.torn_append:
                data = (line + '\n').encode('utf-8')
                with open(path, 'ab') as f:  # simulates a torn write
                    f.write(data[:len(data) // 2])
                print(f'torn {entry_id}', flush=True)
                time.sleep(120)
            super()._append(path, line)
            print(f'stored {entry_id}', flush=True)

    producer = FakeProducer(sleep=args.sleep, skip_k=args.skip_k)
    summary = run_generation(
        fake_items(args.num_sources, args.per_source),
        producer,
        Store(args.out),
        launcher=args.launcher,
        log_interval=0.)
    print(f'produced {" ".join(producer.calls)}', flush=True)
    print(f'summary new={summary["new"]} resumed={summary["resumed"]} '
          f'skipped={summary["skipped"]} entries={summary["entries"]}',
          flush=True)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != 'fake-generate':
        raise SystemExit('usage: generation_test_utils.py fake-generate ...')
    _fake_generate(argv[1:])


def subprocess_env() -> dict:
    """Environment for subprocesses: this checkout first on the path."""
    path = os.environ.get('PYTHONPATH', '')
    return dict(
        os.environ,
        PYTHONPATH=REPO_ROOT + (os.pathsep + path if path else ''),
        OMP_NUM_THREADS='1')


# ---------------------------------------------------------------------------
# A real chat-completions server on loopback
# ---------------------------------------------------------------------------
class LoopbackChatServer:
    """An OpenAI-compatible ``POST /v1/chat/completions`` server on
    127.0.0.1 (a real HTTP server in a thread), for the real ``openai``
    client.

    Modes (``server.mode``, or a per-request script ``server.script`` of
    modes consumed first):

    - ``normal``: JSON answers to the prompter's three requests: generate
      (``num`` prompts; every third one implausible, containing 'on the
      moon'), score (0.1 for prompts with 'moon', else 0.9) and rewrite
      (each prompt 'moon' -> 'in a meadow');
    - ``numbered``: the same content as numbered lists instead of JSON;
    - ``slow``: sleeps ``delay`` seconds, then answers normally;
    - ``500``: HTTP 500 with an error body; ``401``: HTTP 401 whose
      message echoes the API key (as some servers do);
    - ``malformed``: broken JSON; ``refusing``: a refusal sentence;
      ``empty``: an empty answer.

    ``server.requests`` records each request body, ``server.auth`` each
    Authorization header.

    Example::

        with LoopbackChatServer(mode='500') as server:
            prompter = OpenAIPrompter(model='m', base_url=server.url, ...)
    """

    def __init__(self, mode: str = 'normal', delay: float = 1.5) -> None:
        self.mode = mode
        self.script = []
        self.delay = delay
        self.requests = []
        self.auth = []
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self._server.server_address[1]}/v1'

    def __enter__(self):
        import http.server
        import threading
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                import json
                length = int(self.headers.get('Content-Length', 0))
                body = json.loads(self.rfile.read(length) or b'{}')
                outer.requests.append(body)
                outer.auth.append(self.headers.get('Authorization'))
                mode = outer.script.pop(0) if outer.script else outer.mode
                if mode == 'slow':
                    time.sleep(outer.delay)
                    mode = 'normal'
                if mode == '500':
                    return self._send(500, {'error': {
                        'message': 'internal error', 'type': 'server_error'
                    }})
                if mode == '401':  # echoes the key, as some servers do
                    token = str(self.headers.get('Authorization'))
                    return self._send(401, {'error': {
                        'message': 'Incorrect API key provided: '
                        f'{token[7:]}', 'type': 'invalid_request_error'
                    }})
                content = outer.answer(body, mode)
                self._send(200, {
                    'id': f'chatcmpl-{len(outer.requests)}',
                    'object': 'chat.completion',
                    'created': 0,
                    'model': body.get('model', 'm'),
                    'choices': [{
                        'index': 0,
                        'message': {'role': 'assistant',
                                    'content': content},
                        'finish_reason': 'stop'
                    }],
                    'usage': {'prompt_tokens': 1, 'completion_tokens': 1,
                              'total_tokens': 2}
                })

            def _send(self, code, obj):
                import json
                data = json.dumps(obj).encode('utf-8')
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                       Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @staticmethod
    def _listed(text: str):
        import re
        return [m.group(1) for m in re.finditer(r'^\d+\. (.*)$', text,
                                                re.M)]

    def answer(self, body: dict, mode: str) -> str:
        """The content of an answer to ``body`` in ``mode``."""
        import json
        import re
        if mode == 'malformed':
            return '{"prompts": ["unterminated'
        if mode == 'refusing':
            return "I'm sorry, but I can't help with that request."
        if mode == 'empty':
            return ''
        user = body['messages'][-1]['content']
        if '"scores"' in user:
            key = 'scores'
            items = [0.1 if 'moon' in p else 0.9
                     for p in self._listed(user)]
        elif 'implausible' in user:
            key = 'prompts'
            items = [p.replace('on the moon', 'in a meadow')
                     for p in self._listed(user)]
        else:
            key = 'prompts'
            num = int(re.search(r'Write (\d+)', user).group(1))
            cls = re.search(r'photograph of an? (.+?)\. ', user).group(1)
            items = [
                f'{cls} scene {i} on the moon' if i % 3 == 2 else
                f'{cls} scene {i} by a lake' for i in range(num)
            ]
        if mode == 'numbered':
            return '\n'.join(f'{i}. {v}' for i, v in enumerate(items, 1))
        return json.dumps({key: items})


def closed_port_url() -> str:
    """A loopback URL where nothing listens (an LLM server that is down).
    """
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return f'http://127.0.0.1:{port}/v1'


if __name__ == '__main__':
    main()
