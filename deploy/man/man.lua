-- deploy/man/man.lua - pandoc filter that turns the project's markdown references
-- (core/portsyncd.8.md, exporter/README.md, shm/portsyncd-shmdump.1.md) into man
-- pages that render without a warning at 80 columns.
--
-- Tables: on GitHub a flag table reads well; in a man page tbl(1) cannot fit a
-- three-column table of long prose into 80 columns ("table wider than line
-- width", "cannot adjust line"), and man pages list options as tagged
-- paragraphs anyway. So each table row becomes one: the first cell is the tag,
-- the other cells follow. In a table of two columns the second cell is the
-- text. With more, the middle cells come first as "header: value" (empty cells
-- left out), then the last cell: as the text when it is prose (a cell longer
-- than 30 characters), otherwise labelled like the others.
--
-- Links: a link into the source tree (no scheme) means nothing in an installed
-- page, so only its text stays; a web link keeps its address.
--
-- NAME: whatis(1) and apropos(1) read the NAME paragraph through lexgrog(1),
-- which sees font changes as text and wants "name \- summary": there the
-- filter drops code formatting and turns the dash into the man pages' \-.

local stringify = pandoc.utils.stringify

local function cell_inlines(blocks)
  return pandoc.utils.blocks_to_inlines(blocks, { pandoc.Space() })
end

local function is_empty(blocks)
  return stringify(blocks):match('^%s*$') ~= nil
end

function Table(tbl)
  local t = pandoc.utils.to_simple_table(tbl)
  local n = #t.headers
  if n < 2 then
    return nil
  end
  local last_is_prose = false
  for _, row in ipairs(t.rows) do
    if #stringify(row[n]) > 30 then
      last_is_prose = true
    end
  end
  local items = {}
  for _, row in ipairs(t.rows) do
    local term = cell_inlines(row[1])
    local body = {}
    local labelled = pandoc.List()
    local upto = n
    if n == 2 or last_is_prose then
      upto = n - 1
    end
    for i = 2, upto do
      if not is_empty(row[i]) then
        if #labelled > 0 then
          labelled:insert(pandoc.Str(';'))
          labelled:insert(pandoc.Space())
        end
        local header = stringify(t.headers[i])
        if header ~= '' then
          labelled:insert(pandoc.Str(header .. ':'))
          labelled:insert(pandoc.Space())
        end
        labelled:extend(cell_inlines(row[i]))
      end
    end
    if #labelled > 0 then
      body[#body + 1] = pandoc.Para(labelled)
    end
    if upto < n and not is_empty(row[n]) then
      body[#body + 1] = pandoc.Para(cell_inlines(row[n]))
    end
    items[#items + 1] = { term, { body } }
  end
  return pandoc.DefinitionList(items)
end

function Link(link)
  if not link.target:match('^%a[%w+.-]*:') then
    return link.content
  end
  return nil
end

local function plain_name(para)
  return pandoc.walk_block(para, {
    Code = function(c)
      return pandoc.Str(c.text)
    end,
    Str = function(s)
      if s.text == '\u{2014}' or s.text == '\u{2013}' or s.text == '-' then
        return pandoc.RawInline('man', '\\-')
      end
      return nil
    end,
  })
end

function Pandoc(doc)
  for i = 1, #doc.blocks - 1 do
    local b = doc.blocks[i]
    if b.t == 'Header' and stringify(b) == 'NAME' and doc.blocks[i + 1].t == 'Para' then
      doc.blocks[i + 1] = plain_name(doc.blocks[i + 1])
    end
  end
  return doc
end
