-- :checkhealth scribe
local M = {}

function M.check()
  local health = vim.health
  health.start('scribe')
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.10 or newer is needed (vim.fs.root, vim.lsp.start)')
  end
  local scribe = require('scribe')
  local cmd = scribe.config.cmd
  if vim.fn.executable(cmd[1]) == 1 then
    -- `scribe-ls serve` -> `scribe-ls --version` (also `python -m scribe_ls --version`).
    local version_cmd = vim.deepcopy(cmd)
    if version_cmd[#version_cmd] == 'serve' then
      table.remove(version_cmd)
    end
    table.insert(version_cmd, '--version')
    local version = vim.system(version_cmd, { text = true }):wait(5000)
    if version.code == 0 then
      health.ok(vim.trim(version.stdout or '') .. ' (' .. vim.fn.exepath(cmd[1]) .. ')')
    else
      health.warn(cmd[1] .. ' --version failed: ' .. vim.trim(version.stderr or ''))
    end
  else
    health.error(cmd[1] .. ' is not executable', {
      'python -m pip install scribe-ls',
      "or set require('scribe').setup({ cmd = { '/path/to/scribe-ls', 'serve' } })",
    })
  end
  local client = scribe.client(0)
  local root = scribe.root_of(0)
  if client then
    health.ok(('client %d attached to %s'):format(client.id, client.root_dir))
  elseif root and not scribe.is_trusted(root) then
    health.info(('%s is not trusted: nothing is started there (:ScribeTrust, or `trusted` in setup())'):format(root))
  else
    health.info('no scribe client for the current buffer (it attaches inside trusted git repositories)')
  end
end

return M
