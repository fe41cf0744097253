--- extruct.domains: a company's domain, from whatever a user writes for it.
--- The API reads a domain or a whole URL as the registered domain under it:
--- `https://www.stripe.com/pricing`, `Stripe.com` and `blog.stripe.com` are
--- all `stripe.com`, and `exclude.domains` counts at most 1,000 of them
--- after that. The client checks its exclusion lists with this module before
--- sending, and the mock server reads domains with it, so both agree.
--
-- The rule, in order: blanks around the text are dropped and ASCII letters
-- lower-cased; a scheme (`https://`) is dropped, then everything from the
-- first `/`, `?` or `#`, a user (`name@`), a port (`:8080`) and a final
-- dot. What is left must be a host name: at least two labels of letters,
-- digits and hyphens (1 to 63 each, no hyphen at either end, 253 characters
-- in all) whose last label, the top-level domain, is letters (or an `xn--`
-- name). Its registered domain is its last two labels, or its last three
-- where the last two are one of the multi-label public suffixes listed
-- below (`co.uk`, `com.au` ...). The list is short on purpose: the full
-- Public Suffix List holds thousands of entries, most of them private
-- (`github.io`, `blogspot.com`); a suffix missing here makes
-- `shop.example.co.xx` read as `co.xx` is not a domain, never a wrong company.
--
-- Pure Lua with no C core, for the client (extruct.filters) and the mock
-- (extruct.mock.fake) alike.

local M = {}

--- The most distinct domains an exclusion list may name.
M.MAX_EXCLUDED = 1000

--- The public suffixes of two labels known here (see the rule above).
M.MULTI_LABEL_SUFFIXES = {
  "ac.uk", "co.uk", "gov.uk", "ltd.uk", "me.uk", "net.uk", "nhs.uk", "org.uk", "plc.uk", "sch.uk",
  "asn.au", "com.au", "edu.au", "gov.au", "id.au", "net.au", "org.au",
  "ac.nz", "co.nz", "govt.nz", "net.nz", "org.nz",
  "ac.jp", "co.jp", "go.jp", "ne.jp", "or.jp",
  "co.kr", "or.kr",
  "co.in", "firm.in", "gen.in", "ind.in", "net.in", "org.in",
  "co.za", "org.za", "co.il", "org.il", "co.ke", "co.id", "co.th",
  "com.ar", "com.br", "net.br", "org.br", "com.cn", "net.cn", "org.cn", "com.co", "com.eg", "com.hk", "com.mx",
  "com.my", "com.ng", "com.pe", "com.ph", "com.pk", "com.pl", "com.sa", "com.sg", "com.tr", "com.tw", "com.ua",
  "com.vn",
}

local SUFFIX = {}
for _, suffix in ipairs(M.MULTI_LABEL_SUFFIXES) do SUFFIX[suffix] = true end

local MAX_LABEL, MAX_HOST = 63, 253

-- The host name in text (a domain or a URL), lower-cased, or nil and why not.
local function host_of(text)
  local host = text:gsub("^%s+", ""):gsub("%s+$", ""):lower()
  if host == "" then return nil, "it is empty" end
  host = host:gsub("^[a-z][a-z0-9+.-]*://", ""):gsub("^//", "")
  host = host:gsub("[/?#].*$", ""):gsub("^.*@", ""):gsub(":%d*$", ""):gsub("%.$", "")
  if host == "" then return nil, "it names no host" end
  if host:find("[\128-\255]") then
    return nil, "it has non-ASCII characters (write an internationalized domain in its xn-- form)"
  end
  if #host > MAX_HOST then return nil, ("the host name is longer than %d characters"):format(MAX_HOST) end
  return host
end

-- The labels of a host, or nil and why they do not make a domain.
local function labels_of(host)
  local labels = {}
  for label in (host .. "."):gmatch("([^.]*)%.") do
    if label == "" then return nil, "it has an empty label (two dots in a row)" end
    if #label > MAX_LABEL then return nil, ("a label is longer than %d characters"):format(MAX_LABEL) end
    if label:find("[^a-z0-9-]") then
      return nil, ("'%s' holds a character a host name cannot (letters, digits and hyphens only)"):format(label)
    end
    if label:find("^%-") or label:find("%-$") then
      return nil, ("the label '%s' starts or ends with a hyphen"):format(label)
    end
    labels[#labels + 1] = label
  end
  local top = labels[#labels]
  if host:find("^[%d.]+$") then return nil, "an IP address is not a domain" end
  if #labels < 2 then return nil, "a domain has at least two labels (name.tld)" end
  if not (top:find("^%a%a+$") or top:find("^xn%-%-[a-z0-9-]+$")) then
    return nil, ("'%s' is not a top-level domain"):format(top)
  end
  return labels
end

--- The registered domain a domain or URL names ("https://www.Stripe.com/x"
--- -> "stripe.com", "shop.example.co.uk" -> "example.co.uk"), or nil and
--- why it names none ("an IP address is not a domain"). Never raises.
---@param text any
---@return string? domain
---@return string? problem
function M.registered(text)
  if type(text) ~= "string" then return nil, ("a domain is a string, got %s"):format(type(text)) end
  local host, why = host_of(text)
  if not host then return nil, why end
  local labels
  labels, why = labels_of(host)
  if not labels then return nil, why end
  local n = #labels
  local last_two = labels[n - 1] .. "." .. labels[n]
  if SUFFIX[last_two] then
    if n == 2 then return nil, ("'%s' is a public suffix, not a company's domain"):format(last_two) end
    return labels[n - 2] .. "." .. last_two
  end
  return last_two
end

--- An exclusion list as the API counts it: each entry (a domain or URL)
--- normalized to its registered domain, duplicates dropped, first seen
--- first. Returns the list (a plain Lua table), or nil, what is wrong
--- ("exclude.domains[3]: 'localhost' is not a domain: ...", or the count
--- past MAX_EXCLUDED) and the 1-based index of the bad entry (nil for the
--- count). `where` names the list in the message. Never raises.
---@param list string[]
---@param where string
---@return string[]? domains
---@return string? problem
---@return integer? index
function M.exclusion(list, where)
  local out, seen = {}, {}
  for i = 1, #list do
    local entry = list[i]
    local domain, why = M.registered(entry)
    if not domain then
      local shown = type(entry) == "string" and entry:gsub("%c", "?"):sub(1, 100) or tostring(entry)
      return nil, ("%s[%d]: '%s' is not a domain or URL: %s"):format(where, i, shown, why), i
    end
    if not seen[domain] then
      seen[domain] = true
      out[#out + 1] = domain
    end
  end
  if #out > M.MAX_EXCLUDED then
    return nil, ("%s: %d distinct domains once each is read as its registered domain"
      .. " (www.stripe.com/pricing and blog.stripe.com are stripe.com); the API takes at most %d"):format(
        where, #out, M.MAX_EXCLUDED)
  end
  return out
end

return M
