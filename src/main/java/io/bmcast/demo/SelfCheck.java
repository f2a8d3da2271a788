package io.bmcast.demo;

import io.bmcast.guest.GuestImage;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A busybox guest's verdict on its own data, read from its console: {@code bmcast-selfcheck: 8 of 8 files OK}. */
record SelfCheck(int filesOk, int files) {
    static final String KERNEL_FLAG = GuestImage.SELF_CHECK_FLAG;
    private static final Pattern LINE = Pattern.compile(Pattern.quote(GuestImage.SELF_CHECK_LINE) + " (\\d+) of (\\d+) files OK");

    /** The check's line in a console log, or null while the guest has not printed it. */
    static SelfCheck find(String console) {
        Matcher m = LINE.matcher(console);
        return m.find() ? new SelfCheck(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))) : null;
    }

    boolean ok() {
        return files > 0 && filesOk == files;
    }

    String summary() {
        return filesOk + " of " + files + " files OK";
    }
}
