// The small Markdown the server writes (headings, lists, fenced code, paragraphs, `code`,
// **bold**) as DOM nodes. Text only ever goes in through textContent: a note that holds
// HTML shows as text, never runs.

function inline(parent, text) {
  // `code` first (its content is literal), then **bold** in the rest.
  const parts = text.split(/(`[^`]+`)/);
  for (const part of parts) {
    if (part.startsWith('`') && part.endsWith('`') && part.length > 1) {
      const code = document.createElement('code');
      code.textContent = part.slice(1, -1);
      parent.append(code);
      continue;
    }
    const bolds = part.split(/(\*\*[^*]+\*\*)/);
    for (const piece of bolds) {
      if (piece.startsWith('**') && piece.endsWith('**') && piece.length > 4) {
        const strong = document.createElement('strong');
        strong.textContent = piece.slice(2, -2);
        parent.append(strong);
      } else if (piece) {
        parent.append(document.createTextNode(piece));
      }
    }
  }
}

/** A DocumentFragment for `markdown`. */
export function renderMarkdown(markdown) {
  const fragment = document.createDocumentFragment();
  const lines = markdown.split('\n');
  let list = null;
  let paragraph = null;
  const close = () => {
    list = null;
    paragraph = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^```(\S*)/);
    if (fence) {
      close();
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      if (fence[1]) code.dataset.lang = fence[1];
      const body = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i]);
      code.textContent = body.join('\n');
      pre.append(code);
      fragment.append(pre);
      continue;
    }
    if (line.startsWith('|')) {
      close();
      // A table: a header row, the |---| row, then body rows.
      const rows = [];
      for (; i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i]);
      i--;
      const cells = (row) => row.replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
      const table = document.createElement('table');
      rows.forEach((row, index) => {
        if (index === 1 && /^[\s|:-]+$/.test(row)) return;
        const tr = document.createElement('tr');
        for (const cell of cells(row)) {
          const td = document.createElement(index === 0 ? 'th' : 'td');
          inline(td, cell);
          tr.append(td);
        }
        table.append(tr);
      });
      fragment.append(table);
      continue;
    }
    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    if (heading) {
      close();
      // The page's own headings are h1/h2: a packet's start at h3.
      const h = document.createElement(`h${Math.min(heading[1].length + 2, 6)}`);
      inline(h, heading[2]);
      fragment.append(h);
      continue;
    }
    const item = line.match(/^(\s*)[-*]\s+(.*)$/);
    if (item) {
      paragraph = null;
      if (!list) {
        list = document.createElement('ul');
        fragment.append(list);
      }
      const li = document.createElement('li');
      if (item[1].length >= 2) li.className = 'nested';
      inline(li, item[2]);
      list.append(li);
      continue;
    }
    if (!line.trim()) {
      close();
      continue;
    }
    list = null;
    if (!paragraph) {
      paragraph = document.createElement('p');
      fragment.append(paragraph);
    } else {
      paragraph.append(document.createElement('br'));
    }
    inline(paragraph, line);
  }
  return fragment;
}

/** A search snippet with its **matches** marked. */
export function renderSnippet(snippet) {
  const fragment = document.createDocumentFragment();
  for (const piece of snippet.split(/(\*\*[^*]*\*\*)/)) {
    if (piece.startsWith('**') && piece.endsWith('**') && piece.length >= 4) {
      const mark = document.createElement('mark');
      mark.textContent = piece.slice(2, -2);
      fragment.append(mark);
    } else if (piece) {
      fragment.append(document.createTextNode(piece));
    }
  }
  return fragment;
}
