'use client';

import { useCallback, useEffect, type RefObject } from 'react';

// What a person typed into a confirmation form survives a trip to the IdP and back ("Sign in again"):
// the visible text fields are kept in this tab's sessionStorage as they are typed and put back when
// the page loads again. Only plain text fields (an environment name, an image tag): never a password
// or a hidden field. Cleared once the action has been accepted.

const PREFIX = 'linkbox:form:';

function keptFields(form: HTMLFormElement): HTMLInputElement[] {
  return [...form.elements].filter((e): e is HTMLInputElement => e instanceof HTMLInputElement && e.type === 'text' && !!e.name);
}

/** Keeps the form's text fields under `key`; returns the function that forgets them. */
export function useKeptFormState(formRef: RefObject<HTMLFormElement | null>, key: string): () => void {
  const storageKey = `${PREFIX}${key}`;

  useEffect(() => {
    const form = formRef.current;
    if (!form) return;
    try {
      const saved = JSON.parse(sessionStorage.getItem(storageKey) ?? '{}') as Record<string, unknown>;
      for (const field of keptFields(form)) {
        const value = saved[field.name];
        if (typeof value === 'string' && field.value === '') field.value = value;
      }
    } catch {
      // Storage off or a value from an older page: start empty.
    }
    const save = () => {
      const values = Object.fromEntries(keptFields(form).map((f) => [f.name, f.value]));
      try {
        sessionStorage.setItem(storageKey, JSON.stringify(values));
      } catch {
        // Storage full or off: the form still works, it just is not kept.
      }
    };
    form.addEventListener('input', save);
    return () => form.removeEventListener('input', save);
  }, [formRef, storageKey]);

  return useCallback(() => {
    try {
      sessionStorage.removeItem(storageKey);
    } catch {
      // nothing kept
    }
  }, [storageKey]);
}
