"""memory.offload optimizer: each trainable parameter's gradient moves to host memory as backward produces it.

A hook per parameter fires once autograd has accumulated the parameter's gradient in a backward
(`register_post_accumulate_grad_hook` where torch has it; on older torch the hook of the parameter's AccumulateGrad
node, which is kept referenced so the same node, hooks included, serves every backward, a checkpointed layer's
recomputation too). The hook copies the gradient into a host buffer and frees it on the device, so the device never
holds the whole gradient: only what backward has produced and not yet sent, and the copies in flight.

On CUDA the host buffers are pinned and the copy runs on a side stream that first waits for the compute stream,
non-blocking, with an event per parameter recorded after it; the device gradient is marked as used by the side
stream (record_stream) before it is freed, so the allocator reuses its memory only once the copy has read it. The
host reads a buffer only after waiting for its event. Copies in flight are capped at IN_FLIGHT_BYTES (more than one
at a time only below it): past it the hook waits for the oldest, so the device's gradients stay under the cap plus
the largest gradient (the one backward is producing), whatever the host link's speed; src/memory prices that bound.
On CPU the same code runs with plain copies.

Gradient accumulation keeps an OOM's recovery exact (steps.py drops the micro-batch that ran out and keeps the
others): the step's gradient is one fp32 accumulator per parameter; the first micro-batch that reaches a parameter
copies straight into it, a later one into a staging buffer that is added to the accumulator only when its micro-batch
completes (`commit`), so a micro-batch that fails half-way leaves the accumulator as it was (`begin` forgets what it
staged). The staging buffers are allocated the first time a second micro-batch needs them: a step of one
micro-batch never has them. The adds are those the device does without offload (previous + this micro-batch's, in
fp32), so the sums are the same.
"""
import collections
import weakref

import torch

# Bytes of device gradients whose copy to the host may be in flight at once (src/memory/profiles/terms.ts
# STREAM_IN_FLIGHT_BYTES).
IN_FLIGHT_BYTES = 64 * 2 ** 20


class GradStream:
    """The host gradients of `params` (device parameters), filled by their hooks; `grads()` hands them to the step."""

    def __init__(self, params, device):
        self.params = list(params)
        self.cuda = device.type == 'cuda'
        n = len(self.params)
        self.acc = [self._buffer(p) for p in self.params]  # the step's gradient, once has_acc
        self.stage = [None] * n  # a later micro-batch's gradient, until it is kept
        self.has_acc = [False] * n
        self.staged = [False] * n  # this micro-batch's gradient of the parameter was sent
        self.side = torch.cuda.Stream(device=device) if self.cuda else None
        self.events = [torch.cuda.Event() if self.cuda else None for _ in range(n)]
        self.in_flight = collections.deque()  # (parameter index, bytes) of the copies not yet waited for
        self.in_flight_bytes = 0
        self._nodes, self._handles = [], []
        me = weakref.ref(self)  # the hooks must not keep this object (and its pinned buffers) alive

        def hook(i):
            def fire(*_):  # returns None: the hook replaces no gradient
                stream = me()
                if stream is not None:
                    stream.arrived(i)
            return fire
        post_hook = hasattr(torch.Tensor, 'register_post_accumulate_grad_hook')
        with torch.enable_grad():
            for i, p in enumerate(self.params):
                if post_hook:
                    self._handles.append(p.register_post_accumulate_grad_hook(hook(i)))
                else:
                    node = p.expand_as(p).grad_fn.next_functions[0][0]  # the parameter's AccumulateGrad
                    self._nodes.append(node)
                    self._handles.append(node.register_hook(hook(i)))

    def _buffer(self, p):
        return torch.empty(p.shape, dtype=torch.float32, pin_memory=self.cuda)

    # ---- the micro-batches of a step ----

    def begin(self):
        """A micro-batch's backward starts: what an earlier one that did not complete sent is forgotten."""
        self.staged = [False] * len(self.params)

    def commit(self):
        """The micro-batch completed: its gradients join the step's."""
        for i, sent in enumerate(self.staged):
            if not sent:
                continue
            if self.has_acc[i]:
                self._wait(i)
                self.acc[i].add_(self.stage[i])
            self.has_acc[i] = True
        self.begin()

    def zero(self):
        """No gradient for the step (its start, its end, or a failed step)."""
        self.has_acc = [False] * len(self.params)
        self.begin()

    def grads(self):
        """Each parameter's gradient of the step in host memory (None where no micro-batch produced one), waiting
        for its copy where one is in flight."""
        out = []
        self.in_flight.clear()  # every copy is waited for below
        self.in_flight_bytes = 0
        for i, kept in enumerate(self.has_acc):
            if kept:
                self._wait(i)
            out.append(self.acc[i] if kept else None)
        return out

    # ---- the hook ----

    def arrived(self, i):
        """Parameter `i`'s gradient was accumulated in this backward: to the host, freed on the device."""
        p = self.params[i]
        g = p.grad
        if g is None:
            return
        if self.has_acc[i]:
            if self.stage[i] is None:
                self.stage[i] = self._buffer(p)
            target = self.stage[i]
        else:
            target = self.acc[i]
        if self.staged[i]:
            # A second gradient for the parameter in one backward (a parameter used twice across a reentrant
            # checkpoint): added on the host, after the first copy arrived.
            self._wait(i)
            target.add_(g.detach().to('cpu', torch.float32))
        elif self.cuda:
            self.side.wait_stream(torch.cuda.current_stream(g.device))
            with torch.cuda.stream(self.side):
                target.copy_(g.detach(), non_blocking=True)
                self.events[i].record(self.side)
            g.record_stream(self.side)
        else:
            target.copy_(g.detach())
        self.staged[i] = True
        p.grad = None
        if self.cuda:
            nbytes = g.numel() * g.element_size()
            del g  # freed (for reuse once its copy has run) before waiting for older copies
            self._throttle(i, nbytes)

    def _throttle(self, i, nbytes):
        """Counts the copy just queued, forgets the oldest ones that finished and, past IN_FLIGHT_BYTES, waits for the
        oldest until under it (or one left)."""
        self.in_flight.append((i, nbytes))
        self.in_flight_bytes += nbytes
        while self.in_flight and (self.events[self.in_flight[0][0]].query() or (
                self.in_flight_bytes > IN_FLIGHT_BYTES and len(self.in_flight) > 1)):
            j, b = self.in_flight.popleft()
            self.events[j].synchronize()
            self.in_flight_bytes -= b

    def _wait(self, i):
        if self.cuda:
            self.events[i].synchronize()
