// The two DOM helpers the chat and the dashboard share.
'use strict';

const $ = (sel) => document.querySelector(sel);

/** An element with properties (dataset, on<event> listeners, the rest as
 *  properties) and children. */
function el(tag, props = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e[k] = v;
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}
