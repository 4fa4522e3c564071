// JSON-RPC 2.0 over the dashboard's WebSocket (/rpc), the LSP handshake included.
// Each request gets one answer or a timeout error; pushes go to their listeners.

const REQUEST_TIMEOUT_MS = 15000;

export class RpcError extends Error {
  constructor(message, code, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

export class Rpc {
  constructor(url) {
    this.url = url;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Map();
    this.onclose = () => {};
    this.ws = null;
  }

  /** Open the socket and run initialize/initialized; resolves with the server's answer. */
  async connect(token) {
    await new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new RpcError('cannot reach the scribe-ls dashboard server', 'unreachable'));
      ws.onclose = (event) => {
        reject(new RpcError('the connection closed', 'closed'));
        for (const [, waiting] of this.pending) waiting.reject(new RpcError('disconnected', 'closed'));
        this.pending.clear();
        this.onclose(event);
      };
      ws.onmessage = (event) => this.receive(event.data);
    });
    const answer = await this.request('initialize', {
      processId: null,
      rootUri: null,
      capabilities: {},
      clientInfo: { name: 'scribe-dashboard' },
      initializationOptions: { token },
    });
    this.notify('initialized', {});
    return answer;
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return; // not JSON: nothing to answer
    }
    if (message.id !== undefined && message.id !== null && !message.method) {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      clearTimeout(waiting.timer);
      if (message.error) waiting.reject(new RpcError(message.error.message, message.error.code, message.error.data));
      else waiting.resolve(message.result);
      return;
    }
    if (message.method && (message.id === undefined || message.id === null)) {
      for (const listener of this.listeners.get(message.method) ?? []) {
        try {
          listener(message.params);
        } catch (error) {
          console.error(`${message.method} listener failed`, error);
        }
      }
    } else if (message.method) {
      // A request from the server (none is expected): answer it, never leave it waiting.
      this.send({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'not supported by the dashboard' } });
    }
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) throw new RpcError('disconnected', 'closed');
    this.ws.send(JSON.stringify(message));
  }

  request(method, params = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError(`${method}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`, 'timeout'));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.send({ jsonrpc: '2.0', id, method, params });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error);
      }
    });
  }

  notify(method, params = {}) {
    this.send({ jsonrpc: '2.0', method, params });
  }

  on(method, listener) {
    if (!this.listeners.has(method)) this.listeners.set(method, new Set());
    this.listeners.get(method).add(listener);
  }

  close() {
    this.onclose = () => {};
    this.ws?.close();
  }
}
