-- scribe.nvim: the Neovim client of scribe-ls.
--
-- One LSP client named "scribe" per git repository, started over stdio when a buffer inside
-- a trusted repository is opened (see `trusted`: scribe-ls runs git in the repository and
-- records it, so a folder from an archive or a clone is not attached to until you say so,
-- as VS Code's Restricted Mode does). The server's pushes (scribe/sessionChanged, entryAdded, activity,
-- summaryReady) keep a small per-root state that statusline() reads without any request.

local M = {}

local defaults = {
  -- The server command; { 'scribe-ls', 'serve' } when scribe-ls is on PATH.
  cmd = { 'scribe-ls', 'serve' },
  -- vim.notify for every batch of changed files (off: the statusline already shows them).
  notify_activity = false,
  -- vim.notify for notes, decisions, ideas and todos added elsewhere (the CLI, another editor).
  notify_entries = true,
  -- Statusline glyphs.
  icons = { active = '●', paused = '○' },
  -- vim.notify when a summary is written (they are refreshed in the background too).
  notify_summaries = false,
  -- statusline() shows today's time on the item too ('B-4242 ● 12m · 3 files'), as VS Code does.
  statusline_elapsed = true,
  -- Tell scribe-ls you are at work (typing, moving around, coming back to Neovim) at most
  -- this often, in ms (it counts active time from activity); 0 turns heartbeats off.
  heartbeat_interval = 30000,
  -- vim.notify (a warning) when another open session changes a file yours touched (another
  -- item's session here, or one in a linked worktree), once per file and pair of sessions.
  notify_overlaps = true,
  -- vim.notify when you open a repository whose current session is paused (once).
  notify_resume = true,
  -- Where the client attaches by itself: a list of directories (a repository at or below
  -- one of them is trusted; '~/src' trusts all your projects there), or a function(root)
  -- returning true for a trusted root. Repositories trusted with :ScribeTrust are kept in
  -- stdpath('state')/scribe/trusted.json. Anywhere else nothing is started (one notice).
  trusted = {},
}

M.config = vim.deepcopy(defaults)

-- root -> { session = Session|nil, seen = { [path] = true }, seen_count = int }
local states = {}
-- Texts this Neovim is appending right now: their entryAdded push is not news to the user.
local own_texts = {}

local function notify(message, level)
  vim.notify('scribe: ' .. message, level or vim.log.levels.INFO, { title = 'scribe' })
end

local function state_for(root)
  local state = states[root]
  if not state then
    -- today: seconds recorded today on the session's item (scribe/report), nil until known
    state = { session = nil, seen = {}, seen_count = 0, today = nil, beat_at = nil }
    states[root] = state
  end
  return state
end

local function label(session)
  return session.backlogId or session.title or session.id
end

local function redraw()
  vim.schedule(function()
    pcall(vim.cmd.redrawstatus, { bang = true })
  end)
end

-- The session shown for a root: a new one replaces the old; its changed-file tally restarts.
local function show_session(root, session)
  local state = state_for(root)
  if session == nil or session.status == 'completed' then
    if session == nil or (state.session and state.session.id == session.id) then
      state.session, state.seen, state.seen_count, state.today = nil, {}, 0, nil
    end
  else
    if not state.session or state.session.id ~= session.id then
      state.seen, state.seen_count, state.today = {}, 0, nil
    end
    state.session = session
  end
  redraw()
end

--- The git repository root of a buffer (nil outside any repository).
function M.root_of(bufnr)
  bufnr = bufnr or 0
  if vim.bo[bufnr].buftype ~= '' or vim.api.nvim_buf_get_name(bufnr) == '' then
    -- Scratch, help and terminal buffers belong to the repository of the working directory.
    return vim.fs.root(vim.fn.getcwd(), '.git')
  end
  return vim.fs.root(bufnr, '.git')
end

-- root -> id of the scribe client started for it. vim.lsp.get_clients() leaves out clients
-- that are still initializing, and a command may come right after the first :edit.
local client_ids = {}
-- root -> why the server could not be started there (a wrong `cmd`), for the next command.
local start_failures = {}
local start_client -- (root, bufnr|nil) -> client id; below, with the push handlers it needs

--- The scribe client serving a buffer's repository (it may still be initializing), or nil.
function M.client(bufnr)
  local root = M.root_of(bufnr)
  local client = root and client_ids[root] and vim.lsp.get_client_by_id(client_ids[root])
  if client and not client:is_stopped() then
    return client
  end
  return nil
end

-- Neovim 0.11 calls client methods with ':'; 0.10 with '.'. No buffer is named: the one a
-- command came from may be gone by the time its request goes out.
local function send(client, method, params, handler)
  if vim.fn.has('nvim-0.11') == 1 then
    return client:request(method, params, handler)
  end
  return client.request(method, params, handler)
end

-- client id -> { busy = bool, waiting = { {method, params, handler}, ... } }
local queues = {}

-- Requests go out one at a time, in the order they were made: `:ScribeStart` then
-- `:ScribeNote` must reach the session in that order (the server answers concurrently).
local function pump(client)
  local queue = queues[client.id]
  if not queue or queue.busy or #queue.waiting == 0 then
    return
  end
  if not client.initialized then
    -- Typed before the server answered initialize: try again shortly (15 s at most).
    queue.waited = (queue.waited or 0) + 20
    if client:is_stopped() or queue.waited > 15000 then
      queues[client.id] = nil
      notify('scribe-ls did not start (see :LspLog and :checkhealth scribe)', vim.log.levels.ERROR)
      return
    end
    queue.busy = true
    vim.defer_fn(function()
      queue.busy = false
      pump(client)
    end, 20)
    return
  end
  local item = table.remove(queue.waiting, 1)
  queue.busy = true
  local sent = send(client, item[1], item[2], function(err, result, ...)
    queue.busy = false
    local ok, problem = pcall(item[3], err, result, ...)
    pump(client) -- a failing handler must not hold up the requests behind it
    if not ok then
      notify(tostring(problem), vim.log.levels.ERROR)
    end
  end)
  if not sent then
    queue.busy = false
    item[3]({ message = 'scribe-ls is not running' }, nil)
    pump(client)
  end
end

local function client_request(client, method, params, handler)
  queues[client.id] = queues[client.id] or { busy = false, waiting = {} }
  table.insert(queues[client.id].waiting, { method, params, handler or function() end })
  pump(client)
end

-- Today's time on the session's item, read again after anything that may have moved it (a
-- cheap request: the server reads its daily roll-ups); the statusline shows it.
local function refresh_today(client, root)
  local state = states[root]
  local session = state and state.session
  if not session then
    return
  end
  local item = session.backlogId ~= vim.NIL and session.backlogId or session.id
  client_request(client, 'scribe/report', { kind = 'time', since = 'today' }, function(err, report)
    local now = states[root]
    if err or type(report) ~= 'table' or not now or not now.session or now.session.id ~= session.id then
      return
    end
    local seconds = 0
    for _, row in ipairs(report.rows or {}) do
      if row.item == item then
        seconds = row.seconds
      end
    end
    if now.today ~= seconds then
      now.today = seconds
      redraw()
    end
  end)
end

--- Send a scribe request for the current buffer's repository; on_result(result) on success,
--- the server's error message through vim.notify on failure.
function M.request(method, params, on_result)
  local client = M.client(0)
  local root = M.root_of(0)
  if not client and root then
    -- A buffer with no file (a fresh start, a scratch buffer): the working directory's
    -- repository, whose server is started now without attaching the buffer.
    local id = start_client(root, nil)
    client = id and vim.lsp.get_client_by_id(id)
  end
  if not client then
    local why = root and start_failures[root]
      or 'no scribe-ls for this buffer (neither it nor the working directory is in a git repository)'
    notify(why, vim.log.levels.ERROR)
    return false
  end
  client_request(client, method, params or vim.empty_dict(), function(err, result)
    if err then
      notify(err.message or tostring(err), vim.log.levels.ERROR)
      return
    end
    if on_result then
      on_result(result, client)
    end
  end)
  return true
end

-- Push handlers ------------------------------------------------------------------------

local function root_of_ctx(ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  return client and client.root_dir
end

local handlers = {}

handlers['scribe/sessionChanged'] = function(_, params, ctx)
  local root = root_of_ctx(ctx)
  if not root or not params then
    return
  end
  local session, change = params.session, params.change
  local current = state_for(root).session
  -- One session is active per repository: an active one is the session now (started or
  -- resumed by a branch switch); another one paused or stopped leaves ours shown.
  if current and current.id ~= session.id and session.status ~= 'active' then
    return
  end
  show_session(root, session)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client then
    refresh_today(client, root)
  end
  if change ~= 'updated' then
    notify(('%s %s'):format(label(session), change))
  end
end

handlers['scribe/entryAdded'] = function(_, params, ctx)
  local root = root_of_ctx(ctx)
  local entry = params and params.entry
  if not root or not entry then
    return
  end
  local state = state_for(root)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client and state.session and entry.sessionId == state.session.id then
    if entry.kind == 'activity' then
      -- The server counted these files into the session's stats: refresh them.
      client_request(client, 'scribe/getSession', { sessionId = entry.sessionId }, function(err, session)
        if not err and session then
          show_session(root, session)
        end
      end)
    end
    refresh_today(client, root) -- every entry is a moment of activity: the time moved
  end
  local kinds = { note = true, decision = true, idea = true, todo = true }
  if own_texts[entry.text] then
    own_texts[entry.text] = nil
  elseif M.config.notify_entries and kinds[entry.kind] then
    notify(('%s added: %s'):format(entry.kind, entry.text))
  end
end

handlers['scribe/activity'] = function(_, params, ctx)
  local root = root_of_ctx(ctx)
  if not root or not params then
    return
  end
  local state = state_for(root)
  if state.session and params.sessionId == state.session.id then
    for _, file in ipairs(params.files or {}) do
      if not state.seen[file.path] then
        state.seen[file.path] = true
        state.seen_count = state.seen_count + 1
      end
    end
    redraw()
  end
  if M.config.notify_activity then
    notify(('%d file(s) changed'):format(params.count or #(params.files or {})))
  end
end

handlers['scribe/summaryReady'] = function(_, params)
  -- Summaries are also refreshed in the background (after a stop, every N entries): only
  -- one this Neovim asked for is worth a message (:ScribeSummarize opens it anyway).
  if params and params.path and M.config.notify_summaries then
    notify('summary written to ' .. params.path)
  end
end

-- (session, other session, file) already mentioned, kept across server restarts (a new
-- server has forgotten what it told); bounded: forgotten wholesale past MAX_OVERLAPS_TOLD.
local overlaps_told, overlaps_told_count = {}, 0
local MAX_OVERLAPS_TOLD = 2000

local function text_or(value, fallback)
  return type(value) == 'string' and value or fallback
end

-- 'B-5555 is also working on shared.py (branch feature/B-5555-x, worktree /src/other)'
local function overlap_message(other, files, root)
  local named = table.concat(vim.list_slice(files, 1, 3), ', ')
  if #files > 3 then
    named = ('%d files (%s, …)'):format(#files, named)
  end
  local where = 'branch ' .. text_or(other.branch, '(none)')
  local other_root = text_or(other.root, root)
  if (vim.uv.fs_realpath(other_root) or other_root) ~= (vim.uv.fs_realpath(root) or root) then
    where = where .. ', worktree ' .. other_root
  end
  local who = text_or(other.backlogId, text_or(other.title, text_or(other.id, 'another session')))
  if type(other.teammate) == 'string' then
    -- A teammate's session, from the shared logs: who it is, not a worktree of ours.
    return ('%s (teammate %s) is also working on %s (branch %s)'):format(
      who, other.teammate, named, text_or(other.branch, '(none)'))
  end
  return ('%s is also working on %s (%s)'):format(who, named, where)
end
M._overlap_message = overlap_message -- for the tests

handlers['scribe/overlap'] = function(_, params, ctx)
  local root = root_of_ctx(ctx)
  if not root or type(params) ~= 'table' or type(params.files) ~= 'table' or type(params.otherSession) ~= 'table' then
    return
  end
  local state = state_for(root)
  state.overlaps_heard = (state.overlaps_heard or 0) + 1
  local fresh = {}
  for _, file in ipairs(params.files) do
    local key = table.concat({ tostring(params.sessionId), tostring(params.otherSession.id), tostring(file) }, '\0')
    if not overlaps_told[key] then
      if overlaps_told_count >= MAX_OVERLAPS_TOLD then
        overlaps_told, overlaps_told_count = {}, 0
      end
      overlaps_told[key] = true
      overlaps_told_count = overlaps_told_count + 1
      table.insert(fresh, tostring(file))
    end
  end
  if #fresh > 0 and M.config.notify_overlaps then
    notify(overlap_message(params.otherSession, fresh, root), vim.log.levels.WARN)
  end
end

-- Whole minutes to the nearest (30 s and more up): scribe-ls's one rule for durations.
local function minutes_said(seconds)
  local minutes = math.floor(math.max(0, tonumber(seconds) or 0) / 60 + 0.5)
  if minutes < 60 then
    return ('%dm'):format(minutes)
  end
  return ('%dh%02dm'):format(math.floor(minutes / 60), minutes % 60)
end

local function ago(seconds)
  return minutes_said(seconds)
end

handlers['scribe/resumeAvailable'] = function(_, packet, ctx)
  local root = root_of_ctx(ctx)
  if not root or type(packet) ~= 'table' or type(packet.session) ~= 'table' then
    return
  end
  state_for(root).resume = packet
  if not M.config.notify_resume then
    return
  end
  local facts = { ('last active %s ago'):format(ago(packet.secondsSinceActivity)) }
  local decisions = type(packet.decisions) == 'table' and packet.decisions or {}
  if type(decisions[#decisions]) == 'string' then -- oldest first: the last is the newest
    table.insert(facts, 'last decision: ' .. decisions[#decisions])
  end
  local todos = type(packet.openTodos) == 'table' and #packet.openTodos or 0
  if todos > 0 then
    table.insert(facts, ('%d open todo%s'):format(todos, todos == 1 and '' or 's'))
  end
  notify(
    ('%s is paused (%s). :ScribeResume picks it up, :ScribeWhereWasI shows where it stood'):format(
      label(packet.session),
      table.concat(facts, '; ')
    )
  )
end

-- Attaching ----------------------------------------------------------------------------

local function on_init(client)
  -- The session that was already running when this client started.
  client_request(client, 'scribe/status', vim.empty_dict(), function(err, status)
    if not err and status and type(status.currentSession) == 'table' then
      show_session(client.root_dir, status.currentSession)
      refresh_today(client, client.root_dir)
    end
  end)
end

local function client_config(root)
  return {
    name = 'scribe',
    cmd = M.config.cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fs.basename(root) } },
    handlers = handlers,
    on_init = on_init,
    on_exit = function(_, _, client_id)
      if client_ids[root] == client_id then
        client_ids[root] = nil
        states[root] = nil
        redraw()
      end
    end,
  }
end

-- Trust -------------------------------------------------------------------------------

local function trust_file()
  return vim.fs.joinpath(vim.fn.stdpath('state'), 'scribe', 'trusted.json')
end

-- The roots trusted with :ScribeTrust (a JSON list), read on each question: another Neovim
-- may have added one.
local function trusted_by_command()
  local file = io.open(trust_file(), 'r')
  if not file then
    return {}
  end
  local text = file:read('*a')
  file:close()
  local ok, roots = pcall(vim.json.decode, text)
  return ok and type(roots) == 'table' and roots or {}
end

local function save_trusted(roots)
  local path = trust_file()
  vim.fn.mkdir(vim.fs.dirname(path), 'p', tonumber('700', 8))
  local file = assert(io.open(path, 'w'))
  file:write(vim.json.encode(roots))
  file:close()
end

local function inside(root, dir)
  dir = vim.fs.normalize(vim.fn.fnamemodify(vim.fs.normalize(dir), ':p')):gsub('/$', '')
  return root == dir or root:sub(1, #dir + 1) == dir .. '/'
end

--- Whether scribe-ls may be started in `root` (see the `trusted` option and :ScribeTrust).
function M.is_trusted(root)
  root = vim.fs.normalize(root)
  local trusted = M.config.trusted
  if type(trusted) == 'function' then
    if trusted(root) then
      return true
    end
  else
    for _, dir in ipairs(trusted or {}) do
      if inside(root, dir) then
        return true
      end
    end
  end
  return vim.tbl_contains(trusted_by_command(), root)
end

-- Roots already told that they are not trusted: one notice per root and session.
local told_untrusted = {}

local function untrusted_message(root)
  return ('scribe: not started in %s, a folder you have not trusted (scribe-ls runs git there and records it). '
    .. ':ScribeTrust to trust it, or add it to `trusted` in setup()'):format(root)
end

-- Start (or reuse) the root's client; with a buffer, attach it. The server command is
-- checked first: a wrong `cmd` is said plainly, not as "not in a git repository".
start_client = function(root, bufnr)
  if not M.is_trusted(root) then
    start_failures[root] = untrusted_message(root)
    if not told_untrusted[root] then
      told_untrusted[root] = true
      notify(start_failures[root], vim.log.levels.INFO)
    end
    return nil
  end
  local cmd = M.config.cmd
  if type(cmd) == 'table' and vim.fn.executable(cmd[1]) ~= 1 then
    start_failures[root] = ('scribe-ls could not start: %s is not an executable (set cmd in setup())'):format(
      tostring(cmd[1])
    )
    return nil
  end
  local ok, id = pcall(vim.lsp.start, client_config(root), { bufnr = bufnr, attach = bufnr ~= nil })
  if not ok or not id then
    start_failures[root] = 'scribe-ls could not start: ' .. tostring(ok and 'see :LspLog' or id)
    return nil
  end
  start_failures[root] = nil
  client_ids[root] = id
  return id
end

--- Attach the scribe client to a buffer if it lies inside a git repository.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  -- Files only: not help, terminals, scratch buffers or a fresh unnamed buffer.
  if vim.bo[bufnr].buftype ~= '' or vim.api.nvim_buf_get_name(bufnr) == '' then
    return nil
  end
  local root = M.root_of(bufnr)
  if not root then
    return nil
  end
  return start_client(root, bufnr)
end

-- Public API ---------------------------------------------------------------------------

local function relative_file(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr or 0)
  local root = M.root_of(bufnr or 0)
  if name == '' or not root or name:sub(1, #root + 1) ~= root .. '/' then
    return nil
  end
  return name:sub(#root + 2)
end

--- Trust the current buffer's repository (kept for later sessions) and attach its buffers.
function M.trust(root)
  root = root or M.root_of(0)
  if not root then
    notify('scribe: not in a git repository: nothing to trust', vim.log.levels.ERROR)
    return false
  end
  root = vim.fs.normalize(root)
  local roots = trusted_by_command()
  if not vim.tbl_contains(roots, root) then
    table.insert(roots, root)
    save_trusted(roots)
  end
  told_untrusted[root] = nil
  start_failures[root] = nil
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and M.root_of(bufnr) == root then
      M.attach(bufnr)
    end
  end
  notify(('scribe: trusted %s'):format(root), vim.log.levels.INFO)
  return true
end

--- Forget the trust given to a repository with :ScribeTrust and stop its client.
function M.untrust(root)
  root = vim.fs.normalize(root or M.root_of(0) or '')
  save_trusted(vim.tbl_filter(function(r)
    return r ~= root
  end, trusted_by_command()))
  if client_ids[root] then
    vim.lsp.stop_client(client_ids[root])
  end
  notify(('scribe: no longer trusting %s'):format(root), vim.log.levels.INFO)
end

--- Start (or rejoin) a session; backlog_id defaults to the one in the branch name.
function M.start(backlog_id)
  local params = vim.empty_dict()
  if backlog_id and backlog_id ~= '' then
    params = { backlogId = backlog_id }
  end
  return M.request('scribe/startSession', params, function(session, client)
    show_session(client.root_dir, session)
    -- A new or resumed session is announced by its sessionChanged push; joining one that
    -- was already running is said here.
    if session.change == 'rejoined' or session.change == 'updated' then
      notify(('%s rejoined'):format(label(session)))
    end
  end)
end

--- Stop the current session.
function M.stop()
  return M.request('scribe/stopSession', vim.empty_dict(), function(session, client)
    show_session(client.root_dir, session)
  end)
end

--- Add an entry (kind: note, decision, idea, todo) naming the current buffer's file.
function M.add(kind, text)
  if not text or vim.trim(text) == '' then
    notify(kind .. ' text is empty', vim.log.levels.ERROR)
    return false
  end
  local params = { text = text, kind = kind }
  local file = relative_file(0)
  if file then
    params.files = { file }
  end
  own_texts[text] = true
  return M.request('scribe/appendEntry', params)
end

function M.note(text)
  return M.add('note', text)
end

function M.decision(text)
  return M.add('decision', text)
end

-- A read-only scratch buffer in a new split (reused when it is still around).
local function scratch(name, text, filetype)
  local bufnr = vim.fn.bufnr(name)
  if bufnr == -1 then
    bufnr = vim.api.nvim_create_buf(false, true) -- unlisted, buftype=nofile: never attached
    vim.api.nvim_buf_set_name(bufnr, name)
    vim.bo[bufnr].bufhidden = 'wipe'
  end
  vim.bo[bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, vim.split(text, '\n', { plain = true }))
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].filetype = filetype
  local win = vim.fn.bufwinid(bufnr)
  if win == -1 then
    vim.cmd('botright sbuffer ' .. bufnr)
  else
    vim.api.nvim_set_current_win(win)
  end
  return bufnr
end

--- Resume the repository's paused session (the one the server offered, else the one shown).
function M.resume()
  local client = M.client(0)
  local state = client and states[client.root_dir]
  local offered = state and state.resume and state.resume.session
  local session = (state and state.session and state.session.status == 'paused' and state.session) or offered
  if not session then
    notify('no paused session to resume here', vim.log.levels.ERROR)
    return false
  end
  return M.request('scribe/updateSession', { sessionId = session.id, status = 'active' }, function(resumed, c)
    states[c.root_dir].resume = nil
    show_session(c.root_dir, resumed)
  end)
end

--- "Where was I?": the resume packet (decisions, todos, uncommitted work, last files) of
--- the current session in a scratch buffer.
function M.where_was_i()
  return M.request('scribe/resume', vim.empty_dict(), function(packet)
    scratch('scribe://resume', packet.markdown or '', 'markdown')
  end)
end

--- The context packet as Markdown in a scratch buffer.
function M.context(opts)
  opts = opts or {}
  return M.request('scribe/getContext', { format = 'markdown', maxChars = opts.max_chars or 12000 }, function(packet)
    scratch('scribe://context', packet.markdown or '', 'markdown')
  end)
end

local function open_file(path)
  vim.cmd('botright split ' .. vim.fn.fnameescape(path))
  vim.bo.readonly = true
end

--- Write the session's summary (.scribe/summaries/) and open it.
function M.summarize()
  return M.request('scribe/summarize', vim.empty_dict(), function(result)
    open_file(result.path)
  end)
end

--- Open the current session's worklog.
function M.worklog()
  local client = M.client(0)
  local state = client and states[client.root_dir]
  if not state or not state.session then
    notify('no current session', vim.log.levels.ERROR)
    return false
  end
  open_file(state.session.worklogPath)
  return true
end

local function session_line(session)
  return ('%-8s %-9s %s%s'):format(
    label(session),
    session.status,
    session.title or '',
    session.branch and session.branch ~= vim.NIL and ('  (' .. session.branch .. ')') or ''
  )
end

--- Pick a session, then what to do with it (vim.ui.select: works with any picker plugin).
function M.sessions()
  return M.request('scribe/listSessions', { limit = 50 }, function(result)
    local sessions = result.sessions or {}
    if #sessions == 0 then
      notify('no sessions yet: :ScribeStart starts one')
      return
    end
    vim.ui.select(sessions, { prompt = 'Scribe sessions', format_item = session_line }, function(session)
      if not session then
        return
      end
      local actions = {}
      if session.status == 'active' then
        vim.list_extend(actions, { 'pause', 'stop' })
      elseif session.status == 'paused' then
        vim.list_extend(actions, { 'resume', 'stop' })
      end
      table.insert(actions, 'worklog')
      vim.ui.select(actions, { prompt = label(session) }, function(action)
        if action == 'stop' then
          M.request('scribe/stopSession', { sessionId = session.id })
        elseif action == 'pause' or action == 'resume' then
          local status = action == 'pause' and 'paused' or 'active'
          M.request('scribe/updateSession', { sessionId = session.id, status = status })
        elseif action == 'worklog' then
          open_file(session.worklogPath)
        end
      end)
    end)
  end)
end

--- For the statusline: 'B-4242 ● 3 files' while a session runs, '' otherwise. No request.
function M.statusline()
  local ok, root = pcall(M.root_of, 0)
  local state = ok and root and states[root]
  if not state or not state.session then
    return ''
  end
  local session = state.session
  local stats = type(session.stats) == 'table' and session.stats.filesChanged or 0
  -- The server counts files into the session when it writes the activity entry; the pushes
  -- in between are counted here so the number moves as soon as a file is saved.
  local files = math.max(stats, state.seen_count)
  local icon = session.status == 'paused' and M.config.icons.paused or M.config.icons.active
  local counted = ('%d %s'):format(files, files == 1 and 'file' or 'files')
  if not M.config.statusline_elapsed then
    return ('%s %s %s'):format(label(session), icon, counted)
  end
  return ('%s %s %s · %s'):format(label(session), icon, M.elapsed(state), counted)
end

--- Today's time on the session's item, as the statusline shows it ('45s', '12m', '1h05m'):
--- what scribe-ls recorded from activity and heartbeats, not a clock running.
function M.elapsed(state)
  local seconds = math.floor(state.today or 0)
  if seconds < 60 then
    return ('%ds'):format(seconds)
  end
  return minutes_said(seconds)
end

-- bufnr -> { name = buffer name, root = its repository root or nil }
local buffer_roots = {}

--- You are at work in this buffer: a scribe/heartbeat notification for its repository's
--- active session, at most one per heartbeat_interval (the server counts time from them).
--- Returns true when one was sent.
function M.heartbeat(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local interval = M.config.heartbeat_interval
  if interval <= 0 or vim.bo[bufnr].buftype ~= '' then
    return false
  end
  -- CursorMoved fires on every keystroke: the buffer's root is looked up once per name.
  local name = vim.api.nvim_buf_get_name(bufnr)
  local known = buffer_roots[bufnr]
  if not known or known.name ~= name then
    known = { name = name, root = name ~= '' and vim.fs.root(bufnr, '.git') or nil }
    buffer_roots[bufnr] = known
  end
  local state = known.root and states[known.root]
  if not state or not state.session or state.session.status ~= 'active' then
    return false
  end
  local client = client_ids[known.root] and vim.lsp.get_client_by_id(client_ids[known.root])
  if not client or client:is_stopped() then
    return false
  end
  local now = vim.uv.now()
  if state.beat_at and now - state.beat_at < interval then
    return false
  end
  state.beat_at = now
  state.beats = (state.beats or 0) + 1
  if vim.fn.has('nvim-0.11') == 1 then
    client:notify('scribe/heartbeat', vim.empty_dict())
  else
    client.notify('scribe/heartbeat', vim.empty_dict())
  end
  refresh_today(client, client.root_dir) -- sent after the beat: it sees the beat's time
  return true
end

--- The state behind the statusline, for scripts and tests.
function M.state(root)
  return states[root or M.root_of(0)]
end

-- Setup ----------------------------------------------------------------------------------

local function create_commands()
  local command = vim.api.nvim_create_user_command
  command('ScribeTrust', function()
    M.trust()
  end, { bar = true, desc = "Trust this repository: scribe-ls may run git in it and record it" })
  command('ScribeUntrust', function()
    M.untrust()
  end, { bar = true, desc = 'Stop trusting this repository and stop its scribe-ls' })
  command('ScribeStart', function(o)
    M.start(o.args)
  end, { nargs = '?', bar = true, desc = 'Start (or rejoin) a scribe session; default backlog id: the branch' })
  command('ScribeStop', function()
    M.stop()
  end, { bar = true, desc = 'Stop the current scribe session' })
  command('ScribeNote', function(o)
    M.note(o.args)
  end, { nargs = '+', desc = 'Add a note to the scribe session' })
  command('ScribeDecision', function(o)
    M.decision(o.args)
  end, { nargs = '+', desc = 'Add a decision to the scribe session' })
  command('ScribeContext', function()
    M.context()
  end, { bar = true, desc = 'Show the scribe context packet (Markdown)' })
  command('ScribeSessions', function()
    M.sessions()
  end, { bar = true, desc = 'Pick a scribe session and act on it' })
  command('ScribeSummarize', function()
    M.summarize()
  end, { bar = true, desc = 'Write and open the session summary' })
  command('ScribeResume', function()
    M.resume()
  end, { bar = true, desc = 'Resume the paused scribe session' })
  command('ScribeWhereWasI', function()
    M.where_was_i()
  end, { bar = true, desc = 'Show where the session stood: decisions, todos, uncommitted work' })
  command('ScribeWorklog', function()
    M.worklog()
  end, { bar = true, desc = "Open the current session's worklog" })
end

--- Configure and start attaching. Options: see `defaults` above and :help scribe.
function M.setup(opts)
  opts = opts or {}
  vim.validate({
    cmd = { opts.cmd, 'table', true },
    notify_activity = { opts.notify_activity, 'boolean', true },
    notify_entries = { opts.notify_entries, 'boolean', true },
    icons = { opts.icons, 'table', true },
    statusline_elapsed = { opts.statusline_elapsed, 'boolean', true },
    notify_summaries = { opts.notify_summaries, 'boolean', true },
    heartbeat_interval = { opts.heartbeat_interval, 'number', true },
    notify_overlaps = { opts.notify_overlaps, 'boolean', true },
    notify_resume = { opts.notify_resume, 'boolean', true },
    trusted = { opts.trusted, { 'table', 'function' }, true },
  })
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts)
  create_commands()
  local group = vim.api.nvim_create_augroup('scribe', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile', 'BufEnter' }, {
    group = group,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  -- Work that saves no file yet (typing, reading, coming back to Neovim) is activity too.
  vim.api.nvim_create_autocmd({ 'TextChanged', 'TextChangedI', 'CursorMoved', 'BufEnter', 'FocusGained' }, {
    group = group,
    callback = function(args)
      M.heartbeat(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd('BufWipeout', {
    group = group,
    callback = function(args)
      buffer_roots[args.buf] = nil
    end,
  })
  -- Buffers that were open before setup ran.
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.api.nvim_buf_get_name(bufnr) ~= '' then
      M.attach(bufnr)
    end
  end
end

return M
