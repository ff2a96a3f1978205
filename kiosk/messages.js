// Words on the kiosk screen, Japanese first (see the glossary). {name}-style slots are filled by t().

import { translator } from "/static/common/i18n.js";

export const MESSAGES = {
  "idle": { ja: "QRコードをかざしてください", en: "Please show your QR code" },
  "idle.exit": { ja: "退場：QRコードをかざしてください", en: "Exit: please show your QR code" },
  "result.ok": { ja: "受付完了", en: "Checked in" },
  "result.ok.welcome": { ja: "ようこそ、{name} 様", en: "Welcome, {name}" },
  "result.ok.online": { ja: "受付完了（オンライン参加でお申込の方です）", en: "Checked in (registered for online)" },
  "result.already_checked_in": { ja: "受付済みです（{time}・{kiosk}）", en: "Already checked in ({time}, {kiosk})" },
  "result.invalid": { ja: "このQRコードは本イベントの参加証ではありません", en: "Not a ticket for this event" },
  "result.unknown": { ja: "参加証が見つかりません", en: "Ticket not found" },
  "result.not_in_local_data": {
    ja: "この端末のデータにない参加証です（オフライン）",
    en: "Not in this kiosk's local data (offline)",
  },
  "result.revoked": {
    ja: "この参加証は無効です（再発行・キャンセル済み）",
    en: "Ticket no longer valid (re-issued or cancelled)",
  },
  "result.wrong_event": { ja: "別のイベントの参加証です", en: "Ticket for another event" },
  "result.venue_full": { ja: "会場が満席です", en: "The hall is full" },
  "result.exited": { ja: "退場を記録しました", en: "Exit recorded" },
  "result.not_checked_in": { ja: "受付の記録がありません", en: "No check-in on record" },
  "result.error": { ja: "処理できませんでした", en: "Could not process this" },
  "result.undone": { ja: "受付を取り消しました", en: "Check-in undone" },
  "next.search": { ja: "お名前で検索してください", en: "Search by name" },
  "next.organisers": { ja: "事務局へご案内ください", en: "Refer to the organisers" },
  "next.retry": { ja: "もう一度お試しください", en: "Please try again" },
  "honorific": { ja: "{name} 様", en: "{name}" },
  "offline.decided": { ja: "オフライン判定", en: "decided offline" },
  "offline.banner": {
    ja: "オフラインで受付中（回線復旧後に自動で送信します）",
    en: "Offline: scans are kept and sent when the network is back",
  },
  "queue.waiting": { ja: "未送信 {count} 件", en: "{count} waiting to send" },
  "sync.state": { ja: "同期 {time}・{count} 件", en: "Synced {time} · {count} tickets" },
  "sync.never": { ja: "未同期", en: "Not synced yet" },
  "hall.count": {
    ja: "在場者数 {in_hall} / 会場定員 {capacity}",
    en: "In the hall {in_hall} / hall capacity {capacity}",
  },
  "direction.in": { ja: "受付モード", en: "Check-in mode" },
  "direction.out": { ja: "退場モード", en: "Exit mode" },
  "direction.switch_to_out": { ja: "退場モードへ", en: "Switch to exit" },
  "direction.switch_to_in": { ja: "受付モードへ", en: "Switch to check-in" },
  "mode.venue": { ja: "会場参加", en: "venue" },
  "mode.online": { ja: "オンライン参加", en: "online" },
  "status.registered": { ja: "申込済み", en: "registered" },
  "status.waitlisted": { ja: "キャンセル待ち", en: "waiting list" },
  "status.cancelled": { ja: "キャンセル済み", en: "cancelled" },
  "lang.switch": { ja: "English", en: "日本語" },
  "camera.switch": { ja: "カメラ切替", en: "Switch camera" },
  "camera.torch": { ja: "ライト", en: "Light" },
  "camera.hint.brighten": {
    ja: "読み取れません。画面を明るくしてください",
    en: "Can't read it. Please turn up your screen's brightness",
  },
  "camera.hint.back": {
    ja: "読み取れません。少し離してください",
    en: "Can't read it. Please hold it a little further away",
  },
  "camera.unavailable": {
    ja: "カメラを使えません。スキャナーか検索で受付してください",
    en: "Camera not available. Use the scanner or search",
  },
  "undo": { ja: "受付を取り消す", en: "Undo check-in" },
  "undo.last": { ja: "受付を取り消す：{name} 様", en: "Undo check-in: {name}" },
  "close": { ja: "閉じる", en: "Close" },
  "search": { ja: "名前で探す", en: "Find by name" },
  "search.placeholder": { ja: "氏名・フリガナ・メール・受付番号", en: "Name, reading, e-mail or reference no." },
  "search.none": { ja: "該当する申込者がいません", en: "No registrant found" },
  "search.local": { ja: "端末のデータから検索しています（オフライン）", en: "Searching this kiosk's data (offline)" },
  "search.checkin": { ja: "受付", en: "Check in" },
  "search.exit": { ja: "退場", en: "Exit" },
  "search.checked_in": { ja: "受付済み {time}", en: "Checked in {time}" },
  "walkin": { ja: "当日参加", en: "Walk-in" },
  "walkin.name": { ja: "氏名", en: "Name" },
  "walkin.kana": { ja: "フリガナ", en: "Reading (kana)" },
  "walkin.organisation": { ja: "所属（任意）", en: "Organisation (optional)" },
  "walkin.email": { ja: "メールアドレス（任意）", en: "E-mail (optional)" },
  "walkin.submit": { ja: "登録して受付", en: "Register and check in" },
  "walkin.required": { ja: "氏名とフリガナを入力してください", en: "Please enter the name and its reading" },
  "walkin.not_kana": { ja: "フリガナはカタカナかひらがなで入力してください", en: "Enter the reading in kana" },
  "walkin.bad_email": { ja: "メールアドレスの形式が正しくありません", en: "The e-mail address is not valid" },
  "walkin.duplicate_email": {
    ja: "このメールアドレスは申込済みです。検索から受付してください",
    en: "This e-mail is already registered. Check them in from search",
  },
  "walkin.check": { ja: "入力内容を確認してください", en: "Please check the details" },
  "refused.count": {
    ja: "送信できなかった受付 {count} 件（事務局へ連絡してください）",
    en: "{count} scans the server refused (tell the organisers)",
  },
  "pair.title": { ja: "受付端末の設定", en: "Set up this kiosk" },
  "pair.prompt": {
    ja: "事務局から受け取った接続コードを入力してください",
    en: "Enter the pairing code from the organisers",
  },
  "pair.code": { ja: "接続コード", en: "Pairing code" },
  "pair.submit": { ja: "設定する", en: "Pair" },
  "pair.failed": {
    ja: "接続コードが正しくないか、期限切れです。事務局に確認してください",
    en: "The pairing code is wrong or has expired. Ask the organisers",
  },
  "pair.offline": { ja: "サーバーに接続できません。回線を確認してください", en: "Cannot reach the server. Check the network" },
  "pair.revoked": {
    ja: "この受付端末は無効になりました。事務局から新しい接続コードを受け取ってください",
    en: "This kiosk was revoked. Get a new pairing code from the organisers",
  },
  "pair.pending": {
    ja: "未送信の受付 {count} 件は、設定し直すと送信されます",
    en: "{count} unsent scans will be sent once the kiosk is paired again",
  },
  // The door policy: the waiting list, the hall capacity, and what staff do about each warning.
  "result.waitlisted": {
    ja: "キャンセル待ちの方です（会場の空き {room}）",
    en: "On the waiting list ({room} free in the hall)",
  },
  "next.waitlisted": {
    ja: "空きがあれば「入場を許可」を押してください",
    en: "Admit only if there is room",
  },
  "admit": { ja: "入場を許可", en: "Admit" },
  "room.unknown": { ja: "不明", en: "unknown" },
  "room.count": { ja: "{count}名", en: "{count}" },
  "warning.waitlisted": { ja: "キャンセル待ちの方を入場許可しました", en: "Admitted from the waiting list" },
  "warning.reentry": { ja: "再入場です", en: "Re-entry" },
  "warning.walkin": { ja: "当日参加を登録しました", en: "Walk-in registered" },
  "warning.hall_full": {
    ja: "会場定員に達しました。当日参加・キャンセル待ちの方の入場は止めてください",
    en: "The hall is at capacity. Admit no more walk-ins or people on the waiting list",
  },
  "warning.over_capacity": {
    ja: "会場定員を超えています。事務局に連絡してください",
    en: "Over the hall capacity. Tell the organisers",
  },
  "warning.already_exited": { ja: "すでに退場済みです", en: "Already exited" },
  "next.venue_full": {
    ja: "会場に空きがありません。事務局へご案内ください",
    en: "No room in the hall. Refer to the organisers",
  },
  "exit.confirm.title": { ja: "退場モードに切り替えますか？", en: "Switch to exit mode?" },
  "exit.confirm.body": {
    ja: "退場モードでは、QRコードを読むと「退場」を記録します。受付はできません。",
    en: "In exit mode a scan records an exit. Nobody is checked in.",
  },
  "exit.confirm.yes": { ja: "退場モードにする", en: "Switch to exit" },
  "exit.confirm.no": { ja: "受付モードのまま", en: "Stay in check-in" },
  "search.capped": {
    ja: "{count}件まで表示しています。名前をもう少し入力してください",
    en: "Showing the first {count}. Type more of the name",
  },
  "kiosk.scan_area": { ja: "読み取り", en: "Scanning" },
  "kiosk.actions": { ja: "受付の操作", en: "Check-in actions" },
};

let lang = localStorage.getItem("kiosk.lang") === "en" ? "en" : "ja";

export function language() {
  return lang;
}

export function setLanguage(value) {
  lang = value === "en" ? "en" : "ja";
  localStorage.setItem("kiosk.lang", lang);
  document.documentElement.lang = lang;
}

export const translate = translator(MESSAGES);

/** The message `key` in the current language with its {slots} filled. */
export function t(key, values = {}) {
  return translate(key, lang, values);
}

/** Fill every element that carries data-t (text), data-t-placeholder or data-t-label with the current language. */
export function translatePage(root = document) {
  for (const element of root.querySelectorAll("[data-t]")) element.textContent = t(element.dataset.t);
  for (const element of root.querySelectorAll("[data-t-placeholder]")) {
    element.placeholder = t(element.dataset.tPlaceholder);
  }
  for (const element of root.querySelectorAll("[data-t-label]")) element.ariaLabel = t(element.dataset.tLabel);
}

const TIME = { ja: "ja-JP", en: "en-GB" };

/** An ISO time as HH:MM in the event's time zone. */
export function clock(iso, withSeconds = false) {
  if (!iso) return "";
  const options = { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Tokyo" };
  if (withSeconds) options.second = "2-digit";
  return new Intl.DateTimeFormat(TIME[lang], options).format(new Date(iso));
}
