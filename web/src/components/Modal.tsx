/**
 * A modal dialog: the native <dialog> (top layer, inert page behind it), plus a focus trap that
 * keeps Tab inside, Escape to close, and focus handed back to whatever opened it.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function Modal(props: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  /** Selector of the element to focus first (default: the first field). */
  initialFocus?: string;
  size?: 'small' | 'medium';
  testId?: string;
  /** The element that gets focus back on close (default: whatever had focus when the dialog opened). */
  returnFocus?: () => HTMLElement | null | undefined;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const onClose = useRef(props.onClose);
  onClose.current = props.onClose;

  useEffect(() => {
    const element = dialog.current!;
    const opener = props.returnFocus?.() ?? (document.activeElement as HTMLElement | null);
    element.showModal();
    const first = (props.initialFocus && element.querySelector<HTMLElement>(props.initialFocus)) || element.querySelector<HTMLElement>(`.modal-body ${FOCUSABLE}`) || element.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();

    const onKeyDown = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        onClose.current();
        return;
      }
      if (event.key !== 'Tab') return;
      const focusables = [...element.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
      if (focusables.length === 0) return;
      const firstEl = focusables[0]!;
      const lastEl = focusables[focusables.length - 1]!;
      if (event.shiftKey && (document.activeElement === firstEl || !element.contains(document.activeElement))) {
        event.preventDefault();
        lastEl.focus();
      } else if (!event.shiftKey && (document.activeElement === lastEl || !element.contains(document.activeElement))) {
        event.preventDefault();
        firstEl.focus();
      }
    };
    // The browser's own Escape handling ("cancel") would close the dialog behind our back.
    const onCancel = (event: Event) => event.preventDefault();
    element.addEventListener('keydown', onKeyDown);
    element.addEventListener('cancel', onCancel);
    return () => {
      element.removeEventListener('keydown', onKeyDown);
      element.removeEventListener('cancel', onCancel);
      if (element.open) element.close();
      if (!opener || opener === document.body) return;
      // The dialog leaves the DOM after this cleanup, and the browser may settle focus on <body>
      // then (it restores focus on close() itself, racing us; on a busy machine a few frames
      // later): hand focus back now and check again for a few frames.
      let framesLeft = 10;
      const restore = () => {
        if (!opener.isConnected) return;
        if (document.activeElement === document.body || document.activeElement === null) opener.focus();
        if (--framesLeft > 0) requestAnimationFrame(restore);
      };
      opener.focus();
      setTimeout(restore, 0);
    };
    // Opening happens once per mount; props are read through refs.
  }, []);

  return (
    <dialog
      ref={dialog}
      class={`modal modal-${props.size ?? 'medium'}`}
      aria-labelledby={titleId}
      data-testid={props.testId}
      onClick={(event) => {
        // A click on the backdrop lands on the <dialog> itself.
        if (event.target === dialog.current) onClose.current();
      }}
    >
      <div class="modal-frame">
        <header class="modal-header">
          <h2 id={titleId}>{props.title}</h2>
          <button type="button" class="icon-button" aria-label="Close" onClick={() => onClose.current()}>
            ×
          </button>
        </header>
        <div class="modal-body">{props.children}</div>
      </div>
    </dialog>
  );
}
