// Renders /openapi.json as a list of operations, grouped by tag. No network beyond this API.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

async function render() {
  const main = document.getElementById("operations");
  let doc;
  try {
    const response = await fetch("/openapi.json");
    doc = await response.json();
  } catch (error) {
    main.textContent = "Could not load /openapi.json: " + error;
    return;
  }
  main.textContent = "";
  const groups = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      (groups[tag] = groups[tag] || []).push([method.toUpperCase(), path, op]);
    }
  }
  for (const [tag, ops] of Object.entries(groups)) {
    main.append(el("h2", {}, tag));
    for (const [method, path, op] of ops) {
      const role = op["x-required-role"] ? "needs " + op["x-required-role"] : "public";
      const params = (op.parameters || [])
        .map((p) => p.name + " (" + p.in + ")")
        .join(", ");
      const codes = Object.keys(op.responses || {}).join(" ");
      // The schema a body or an answer names (its type in the API's code).
      const named = (content) => {
        const schema = content && content["application/json"] && content["application/json"].schema;
        return schema && schema.$ref ? schema.$ref.split("/").pop() : "";
      };
      const body = op.requestBody ? named(op.requestBody.content) : "";
      const success = Object.entries(op.responses || {}).find(([code]) => code.startsWith("2"));
      const answer = success ? named(success[1].content) : "";
      const types = [body && "body: " + body, answer && "answer: " + answer].filter(Boolean).join(", ");
      main.append(
        el("section", { class: "op", id: op.operationId },
          el("span", { class: "role" }, role),
          el("span", { class: "method " + method }, method),
          el("span", { class: "path" }, path),
          el("div", { class: "meta" }, op.summary || ""),
          el("div", { class: "meta" }, params ? "parameters: " + params : "no parameters"),
          el("div", { class: "meta" }, "responses: " + codes),
          el("div", { class: "meta" }, types)));
    }
  }
}

render();
