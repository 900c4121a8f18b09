// casedigest — progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Instant facets: a ticked crime form, facet or sort order submits the search form.
  var form = document.querySelector("form[data-autosubmit]");
  if (form) {
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("input[type=checkbox], select")) {
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }
    });
  }

  // Keep shared URLs short: empty fields (no query, default sort, no years) are left out.
  if (form) {
    form.addEventListener("formdata", function (event) {
      var data = event.formData;
      var empty = [];
      data.forEach(function (value, key) { if (value === "") { empty.push(key); } });
      empty.forEach(function (key) {
        if (data.getAll(key).every(function (v) { return v === ""; })) { data.delete(key); }
      });
    });
  }

  // The stylesheet shows the filters open on a wide screen through ::details-content; a browser
  // without it would keep them folded there, so open them.
  var filters = document.querySelector("details.filters");
  if (filters && window.matchMedia("(min-width: 800px)").matches && window.CSS && CSS.supports &&
      !CSS.supports("selector(::details-content)")) {
    filters.open = true;
  }

  // "/" focuses the query box unless the user is typing somewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var active = document.activeElement;
    if (active && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName))) { return; }
    var box = document.getElementById("q");
    if (box) {
      event.preventDefault();
      box.focus();
      box.select();
    } else {
      window.location.href = "/";
    }
  });

  // Copy button for the formatted citation (the readonly field works without it).
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = document.querySelector(".copy-status");
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () { if (status) { status.textContent = "已复制到剪贴板"; } };
      var fallback = function () {
        field.focus();
        field.select();
        try { document.execCommand("copy"); done(); } catch (e) { if (status) { status.textContent = "请手动复制上面的文字"; } }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, fallback);
      } else {
        fallback();
      }
    });
  });

  // Upload: stream an NDJSON file to the bulk endpoint, show progress, offer the rejects.
  var upload = document.getElementById("upload-form");
  if (upload) {
    upload.hidden = false;
    Array.prototype.forEach.call(document.querySelectorAll(".nojs"), function (el) { el.hidden = true; });
    var statusEl = document.getElementById("upload-status");
    var progress = document.getElementById("upload-progress");
    var rejectsBox = document.getElementById("upload-rejects");
    var rejectsLink = document.getElementById("upload-rejects-link");
    var say = function (text) { statusEl.textContent = text; };

    upload.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = document.getElementById("upload-file").files[0];
      var key = document.getElementById("upload-key").value.trim();
      if (!file) { say("请选择文件。"); return; }
      rejectsBox.hidden = true;
      progress.value = 0;
      say("正在读取文件…");
      file.text().then(function (text) {
        var total = text.split("\n").filter(function (line) { return line.trim() !== ""; }).length || 1;
        progress.max = total;
        say("正在上传 " + total + " 行…");
        var headers = { "Content-Type": "application/x-ndjson" };
        if (key) { headers.Authorization = "Bearer " + key; }
        return fetch("/v1/cases/bulk", { method: "POST", headers: headers, body: file }).then(function (response) {
          if (!response.ok) {
            return response.json().then(function (body) {
              var err = body && body.error ? body.error : {};
              var hint = response.status === 401 ? "（请填写有效的 API 密钥）" : response.status === 403 ? "（该密钥没有写入权限）" : "";
              say("上传失败：" + response.status + " " + (err.message || "") + hint);
            }, function () { say("上传失败：HTTP " + response.status); });
          }
          return readResults(response, total);
        });
      }).catch(function (error) { say("上传失败：" + error); });
    });

    var readResults = function (response, total) {
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      var done = 0;
      var rejects = [];
      var summary = null;
      var handle = function (line) {
        if (!line.trim()) { return; }
        var item = JSON.parse(line);
        if (item.summary) { summary = item.summary; return; }
        done += 1;
        if (item.status === "rejected") { rejects.push(line); }
        progress.value = done;
        say("已处理 " + done + " / " + total + " 行，拒绝 " + rejects.length + " 行");
      };
      var pump = function () {
        return reader.read().then(function (chunk) {
          if (chunk.done) {
            handle(buffer);
            finish();
            return undefined;
          }
          buffer += decoder.decode(chunk.value, { stream: true });
          var lines = buffer.split("\n");
          buffer = lines.pop();
          lines.forEach(handle);
          return pump();
        });
      };
      var finish = function () {
        progress.value = progress.max;
        if (summary) {
          say("完成：读取 " + summary.read + " 行；新增 " + summary.inserted + "，更新 " + summary.updated +
              "，未变 " + summary.unchanged + "，拒绝 " + summary.rejected + "。");
        }
        if (rejects.length) {
          var blob = new Blob([rejects.join("\n") + "\n"], { type: "application/x-ndjson" });
          rejectsLink.href = URL.createObjectURL(blob);
          rejectsBox.hidden = false;
        }
      };
      return pump();
    };
  }
})();
